package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README promises that its first command audits the bundled example and
// shows the report it prints. TestReadmeExample runs that command, as the
// README spells it, and compares the report with the one shown; -update
// rewrites the README's copy.
func TestReadmeExample(t *testing.T) {
	readme, err := filepath.Abs(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	args := readmeFirstCommand(t, string(doc))
	t.Chdir(filepath.Dir(readme))
	out, stderr, err := runCLI(t, args...)
	if err != nil && !isFindings(err) {
		t.Fatalf("flowaudit %s: %v (stderr %s)", strings.Join(args, " "), err, stderr)
	}
	const begin, end = "<!-- example-report:begin -->\n```text\n", "```\n<!-- example-report:end -->"
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", begin, end)
	}
	shown := string(doc[i+len(begin) : j])
	if *update {
		doc = append(append(append([]byte{}, doc[:i+len(begin)]...), out...), doc[j:]...)
		if err := os.WriteFile(readme, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if shown != out {
		t.Errorf("README.md shows a different report than its first command prints (go test ./cmd/flowaudit -run Readme -update); got:\n%s", out)
	}
}

// readmeFirstCommand returns the arguments of the README's first command,
// which must be `go run ./cmd/flowaudit ARGS... # comment`.
func readmeFirstCommand(t *testing.T, doc string) []string {
	t.Helper()
	const prefix = "go run ./cmd/flowaudit "
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "go run ") {
			continue
		}
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("README's first command %q does not start with %q", line, prefix)
		}
		line, _, _ = strings.Cut(strings.TrimPrefix(line, prefix), "#")
		return strings.Fields(line)
	}
	t.Fatal("README.md has no `go run ./cmd/flowaudit` command")
	return nil
}
