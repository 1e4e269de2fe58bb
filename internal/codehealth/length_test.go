package codehealth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxLines is the longest a function may be, from its func keyword to its
// closing brace (docs: "no function over 80 lines").
const maxLines = 80

// exempt is the directive that lets a function be longer (and more complex,
// for gocyclo in `make lint`); its doc comment must say why.
const exempt = "//gocyclo:ignore"

// splitElsewhere lists functions known to be over the bound and split on
// another branch that is merged separately: the test fails once one of
// them is short, so the entry is removed then.
var splitElsewhere = map[string]string{}

// TestFunctionLength fails on every function over maxLines lines in a
// non-generated, non-test .go file of the module, listing them. Test
// files may be longer: a table of cases reads best whole.
func TestFunctionLength(t *testing.T) {
	root := moduleRoot(t)
	var long []string
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for _, fn := range longFunctions(t, path) {
			name := filepath.ToSlash(filepath.Dir(rel)) + "." + fn
			if _, ok := splitElsewhere[name]; ok {
				seen[name] = true
				continue
			}
			long = append(long, rel+": "+fn)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(long)
	for _, l := range long {
		t.Errorf("%s is over %d lines: split it, or mark it %s with a doc comment saying why", l, maxLines, exempt)
	}
	for name, why := range splitElsewhere {
		if !seen[name] {
			t.Errorf("%s is no longer over %d lines (%s): remove it from splitElsewhere", name, maxLines, why)
		}
	}
}

// longFunctions parses one file and returns its functions over maxLines
// (methods as Type.Method), except in generated files and those marked
// exempt with a reason.
func longFunctions(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if ast.IsGenerated(f) {
		return nil
	}
	var out []string
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		n := fset.Position(fd.End()).Line - fset.Position(fd.Type.Func).Line + 1
		if n <= maxLines || exempted(t, path, fd) {
			continue
		}
		out = append(out, funcName(fd))
	}
	return out
}

// exempted reports whether fd carries the exempt directive; one without a
// reason in its doc comment is an error.
func exempted(t *testing.T, path string, fd *ast.FuncDecl) bool {
	t.Helper()
	if fd.Doc == nil {
		return false
	}
	for _, c := range fd.Doc.List {
		if c.Text == exempt {
			if strings.TrimSpace(fd.Doc.Text()) == "" {
				t.Errorf("%s: %s is marked %s without a comment saying why", path, funcName(fd), exempt)
			}
			return true
		}
	}
	return false
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
