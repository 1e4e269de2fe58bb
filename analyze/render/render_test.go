package render

import (
	"bytes"
	"flag"
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

func TestTableGolden(t *testing.T) {
	for _, fx := range goldenFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Table(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			golden(t, fx.name+".txt", b.Bytes())
		})
	}
}

func TestMarkdownGolden(t *testing.T) {
	for _, fx := range goldenFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Markdown(&b, fx.rep); err != nil {
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
			if err := HTML(&b, fx.rep); err != nil {
				t.Fatal(err)
			}
			golden(t, fx.name+".html", b.Bytes())
		})
	}
}
