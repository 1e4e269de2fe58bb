package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/flowaudit/flowaudit"

// pkg is what `go list -json` says of a package (the fields used here).
type pkg struct {
	ImportPath string
	Imports    []string // non-test imports
	Deps       []string // transitive non-test imports
	Standard   bool
}

// listPackages runs `go list -deps -json ./...` at the module root for
// GOOS goos, and returns the module's own packages by import path.
func listPackages(t *testing.T, goos string) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list (GOOS=%s): %v\n%s", goos, err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if inModule(p.ImportPath) {
			pkgs[p.ImportPath] = &p
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of the module: not run at its root?", len(pkgs))
	}
	return pkgs
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

func inModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// under reports whether path is pkg or one of its subpackages (pkg is
// relative to the module).
func under(path, pkg string) bool {
	p := module + "/" + pkg
	return path == p || strings.HasPrefix(path, p+"/")
}

// osSpecific are imports that tie a package to one system, or to a
// kernel interface: none may appear in the portable layers.
var osSpecific = []string{
	"syscall", "os/exec", "net",
	"golang.org/x/sys/unix", "golang.org/x/sys/windows",
	"github.com/cilium/ebpf", "github.com/google/nftables", "github.com/gopacket/gopacket/afpacket",
}

func isOSSpecific(path string) bool {
	for _, o := range osSpecific {
		// Standard packages match exactly ("net", not "net/netip"),
		// modules with their subpackages.
		if path == o || strings.Contains(o, ".") && strings.HasPrefix(path, o+"/") {
			return true
		}
	}
	return false
}

// TestDependencies fails when a package imports what it must not, on
// Linux, macOS and Windows alike:
//   - no non-test code imports "testing" or internal/labtest (test
//     support, imported by _test.go files only), so neither reaches the
//     binary;
//   - analyze and catalog, and every package of the module they use, are
//     portable: no capture backend (capture/ebpf, capture/live,
//     capture/pcapfile), nothing OS-specific (osSpecific);
//   - capture, the pipeline, holds no file, socket or OS code and does not
//     import its sources (capture/live, capture/pcapfile, capture/ebpf);
//   - capture/ebpf does not import capture/live (live chooses between the
//     two backends, so it imports ebpf);
//   - layers point one way: cmd -> analyze -> capture, catalog;
//   - only cmd imports cobra.
func TestDependencies(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			pkgs := listPackages(t, goos)
			for _, p := range pkgs {
				checkPackage(t, p, pkgs)
			}
		})
	}
}

func checkPackage(t *testing.T, p *pkg, pkgs map[string]*pkg) {
	t.Helper()
	path := p.ImportPath
	// forbid reports each import in list (p.Imports or p.Deps, as verb
	// says) that bad refuses.
	forbid := func(verb string, list []string, bad func(string) bool, why string) {
		t.Helper()
		for _, imp := range list {
			if bad(imp) {
				t.Errorf("%s %s %s: %s", path, verb, imp, why)
			}
		}
	}
	if !under(path, "internal/labtest") {
		forbid("imports", p.Imports, func(imp string) bool {
			return imp == "testing" || under(imp, "internal/labtest")
		}, "only _test.go files may import testing and internal/labtest")
	}
	if !under(path, "cmd") {
		forbid("depends on", p.Deps, func(imp string) bool {
			return strings.HasPrefix(imp, "github.com/spf13/cobra") || under(imp, "cmd")
		}, "only cmd builds the command line")
	}
	switch {
	case under(path, "analyze") || under(path, "catalog"):
		checkPortable(t, p, pkgs)
	case path == module+"/capture":
		forbid("depends on", p.Deps, func(imp string) bool {
			return under(imp, "capture/live") || under(imp, "capture/pcapfile") || under(imp, "capture/ebpf")
		}, "capture is the pipeline: its sources import it, not the reverse")
		forbid("imports", p.Imports, func(imp string) bool {
			return isOSSpecific(imp) || imp == "os"
		}, "capture holds no file, socket or OS-specific code")
	case under(path, "capture/ebpf"):
		forbid("depends on", p.Deps, func(imp string) bool {
			return under(imp, "capture/live")
		}, "capture/live chooses between the backends, so it imports capture/ebpf, never the reverse")
	}
	if under(path, "capture") {
		forbid("depends on", p.Deps, func(imp string) bool {
			return under(imp, "analyze") || under(imp, "catalog")
		}, "layers point one way: analyze uses capture and catalog, which know nothing of each other")
	}
	if under(path, "catalog") {
		forbid("depends on", p.Deps, func(imp string) bool {
			return under(imp, "capture") || under(imp, "analyze")
		}, "layers point one way: analyze uses capture and catalog, which know nothing of each other")
	}
}

// checkPortable checks p and every package of the module it depends on:
// no capture backend, no OS-specific import. (Third-party packages are
// not held to it: the table renderer's terminal check uses x/sys.)
func checkPortable(t *testing.T, p *pkg, pkgs map[string]*pkg) {
	t.Helper()
	for _, dep := range append([]string{p.ImportPath}, p.Deps...) {
		if !inModule(dep) {
			continue
		}
		if under(dep, "capture/ebpf") || under(dep, "capture/live") || under(dep, "capture/pcapfile") {
			t.Errorf("%s depends on %s: analyze and catalog use no capture backend", p.ImportPath, dep)
			continue
		}
		d := pkgs[dep]
		if d == nil {
			continue
		}
		for _, imp := range d.Imports {
			if isOSSpecific(imp) {
				via := ""
				if dep != p.ImportPath {
					via = " (through " + dep + ")"
				}
				t.Errorf("%s imports %s%s: analyze and catalog build and work on any system", p.ImportPath, imp, via)
			}
		}
	}
}
