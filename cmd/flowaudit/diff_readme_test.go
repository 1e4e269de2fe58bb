package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeMaintenanceDay runs the README's maintenance day over the
// bundled lab captures, command by command as the README spells them
// (its /tmp/ files in a temporary directory instead), requires exit
// status 0 from each, and compares what the last one, the diff, prints
// with the output the README shows; -update rewrites the README's copy.
func TestReadmeMaintenanceDay(t *testing.T) {
	readme := filepath.Join(repoRoot(t), "README.md")
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end, shownBegin = "<!-- maintenance-day:begin -->\n```sh\n", "```\n<!-- maintenance-day:end -->", "```\n\n```text\n"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", begin, end)
	}
	block := string(doc[i+len(begin) : j])
	k := strings.Index(block, shownBegin)
	if k < 0 {
		t.Fatalf("the maintenance-day block has no ```text output after its commands")
	}
	commands, shown := block[:k], block[k+len(shownBegin):]
	tmp := t.TempDir()
	t.Chdir(repoRoot(t))
	var out string
	n := 0
	for _, line := range strings.Split(commands, "\n") {
		if line == "" {
			continue
		}
		const prefix = "go run ./cmd/flowaudit "
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("README maintenance-day command %q does not start with %q", line, prefix)
		}
		args := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(line, prefix), "/tmp/", tmp+"/"))
		var stderr string
		out, stderr, err = runCLI(t, args...)
		if err != nil {
			t.Fatalf("flowaudit %s: %v, want exit status 0 (stderr %s)", strings.Join(args, " "), err, stderr)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d commands in the README's maintenance day, want replay, replay, diff", n)
	}
	out = strings.ReplaceAll(out, tmp+"/", "/tmp/")
	if *update {
		start := i + len(begin) + k + len(shownBegin)
		doc = append(append(append([]byte{}, doc[:start]...), out...), doc[j:]...)
		if err := os.WriteFile(readme, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if shown != out {
		t.Errorf("README.md shows another diff than its maintenance-day commands print (go test ./cmd/flowaudit -run ReadmeMaintenance -update); got:\n%s", out)
	}
}
