package main

import (
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// The man pages are generated here, in a test, because the command tree
// lives in package main, which no other program can import: `make man`
// runs TestManPages with -man DIR. So cobra/doc and the Markdown-to-roff
// library it renders with (go-md2man) are test dependencies, and stay
// out of the binary (TestManGeneratorNotInBinary).
var (
	manDir     = flag.String("man", "", "write the man pages into `DIR` (make man) instead of a temporary directory")
	manVersion = flag.String("man-version", "", "version the man pages name (make man: git describe); default: the test binary's")
)

// writeManPages writes flowaudit.1 and one page per subcommand
// (flowaudit-catalog-export.1) into dir. Their date is SOURCE_DATE_EPOCH
// when set (make man sets the last commit's), else today.
func writeManPages(root *cobra.Command, dir, ver string) error {
	walkCommands(root, func(c *cobra.Command) { c.DisableAutoGenTag = true })
	return doc.GenManTree(root, &doc.GenManHeader{
		Section: "1", // the title is each page's command: FLOWAUDIT-CATALOG-EXPORT
		Source:  "flowaudit " + ver,
		Manual:  "flowaudit manual",
	}, dir)
}

// TestManPages generates the man pages from the command tree and checks
// that every command has its page, with its description, its flags
// (inherited ones too) and its examples, and that there is no other page.
func TestManPages(t *testing.T) {
	dir := *manDir
	if dir == "" {
		dir = t.TempDir()
	}
	ver := *manVersion
	if ver == "" {
		ver = version
	}
	root := newRootCmd(&app{stdout: io.Discard, stderr: io.Discard})
	if err := writeManPages(root, dir, ver); err != nil {
		t.Fatalf("generate man pages in %s: %v", dir, err)
	}
	want := map[string]bool{}
	walkCommands(root, func(cmd *cobra.Command) {
		if cmd != root && (!cmd.IsAvailableCommand() || cmd.IsAdditionalHelpTopicCommand()) {
			return
		}
		name := strings.ReplaceAll(cmd.CommandPath(), " ", "-") + ".1"
		want[name] = true
		checkManPage(t, filepath.Join(dir, name), cmd, ver)
	})
	for _, must := range []string{"flowaudit.1", "flowaudit-replay.1", "flowaudit-catalog-export.1", "flowaudit-completion-bash.1"} {
		if !want[must] {
			t.Errorf("no command makes %s", must)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("%s: a page for no command", e.Name())
		}
	}
}

// checkManPage checks one command's page.
func checkManPage(t *testing.T, path string, cmd *cobra.Command, ver string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s has no page: %v", cmd.CommandPath(), err)
		return
	}
	// roff escapes "-" as "\-"; compare on plain text.
	page := strings.ReplaceAll(string(data), `\-`, "-")
	name := strings.ReplaceAll(cmd.CommandPath(), " ", "-")
	for _, want := range []string{
		`.TH "` + strings.ToUpper(name) + `" "1"`,
		`"flowaudit ` + ver + `"`,
		".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
		name + " - " + cmd.Short,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("%s: no %q in\n%.400s", filepath.Base(path), want, page)
		}
	}
	flags := func(fs *pflag.FlagSet) {
		fs.VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(page, "--"+f.Name) {
				t.Errorf("%s: flag --%s missing", filepath.Base(path), f.Name)
			}
		})
	}
	flags(cmd.NonInheritedFlags())
	flags(cmd.InheritedFlags())
	for _, line := range strings.Split(cmd.Example, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.Contains(page, line) {
			t.Errorf("%s: example %q missing", filepath.Base(path), line)
		}
	}
}

// TestManGeneratorNotInBinary: the man page generator is a build-time tool
// (make man); the binary does not carry it.
func TestManGeneratorNotInBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/spf13/cobra/doc" || strings.HasPrefix(dep, "github.com/cpuguy83/go-md2man") || strings.HasPrefix(dep, "github.com/russross/blackfriday") {
			t.Errorf("flowaudit imports %s: the man page generator belongs in tests (man_test.go)", dep)
		}
	}
}
