package render

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./analyze/render -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./analyze/render -update rewrites it); got:\n%s", path, got)
	}
}

// TestTableGolden: the bundled example's table at 80 (blocks), 120 and
// 200 columns (tables, wrapped at 120), the other fixtures' without a
// width limit, the synthetic one also with every not-applicable
// requirement.
func TestTableGolden(t *testing.T) {
	for _, fx := range goldenFixtures(t) {
		cases := map[string]Options{fx.name + ".txt": {}}
		switch fx.name {
		case "gateway":
			delete(cases, fx.name+".txt") // 200 is as wide as it gets
			for _, w := range []int{80, 120, 200} {
				cases[fmt.Sprintf("%s.%d.txt", fx.name, w)] = Options{Width: w}
			}
		case "synthetic":
			cases[fx.name+".all.txt"] = Options{All: true}
		}
		for name, opts := range cases {
			t.Run(name, func(t *testing.T) {
				var b bytes.Buffer
				if err := Table(&b, fx.rep, opts); err != nil {
					t.Fatal(err)
				}
				golden(t, name, b.Bytes())
			})
		}
	}
}

func TestMarkdownGolden(t *testing.T) {
	for _, fx := range goldenFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Markdown(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			golden(t, fx.name+".md", b.Bytes())
		})
	}
}

func TestHTMLGolden(t *testing.T) {
	for _, fx := range goldenFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			golden(t, fx.name+".html", b.Bytes())
		})
	}
}
