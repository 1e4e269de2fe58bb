package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildVersion: without -ldflags, the version comes from the build
// info: the module version unless "(devel)", the short VCS revision unless
// the version holds it, and "dirty" for uncommitted changes; "dev" when
// the build info says nothing.
func TestBuildVersion(t *testing.T) {
	const rev = "2c9894d68d31dfb91f9409a10e380e7afc732d95"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-04T17:57:04Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	for _, tc := range []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		none     bool // ReadBuildInfo fails (a binary built without module support)
		want     string
	}{
		{name: "no build info", none: true, want: "dev"},
		{name: "go test, -buildvcs=false, a worktree", version: "(devel)", want: "dev"},
		{name: "empty version", version: "", want: "dev"},
		{name: "go install m@v1.2.0", version: "v1.2.0", want: "v1.2.0"},
		{name: "go build at a tag", version: "v1.2.0", settings: vcs("false"), want: "v1.2.0-2c9894d68d31"},
		{name: "go build, pseudo-version", version: "v0.0.0-20261204175704-2c9894d68d31", settings: vcs("false"), want: "v0.0.0-20261204175704-2c9894d68d31"},
		{name: "go build, pseudo-version, dirty", version: "v0.0.0-20261204175704-2c9894d68d31+dirty", settings: vcs("true"), want: "v0.0.0-20261204175704-2c9894d68d31-dirty"},
		{name: "devel with VCS", version: "(devel)", settings: vcs("false"), want: "2c9894d68d31"},
		{name: "devel with VCS, dirty", version: "(devel)", settings: vcs("true"), want: "2c9894d68d31-dirty"},
		{name: "short revision", version: "(devel)", settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, want: "abc"},
		{name: "dirty without revision", version: "(devel)", settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, want: "dev"},
	} {
		read := func() (*debug.BuildInfo, bool) {
			if tc.none {
				return nil, false
			}
			bi := &debug.BuildInfo{Path: "github.com/flowaudit/flowaudit/cmd/flowaudit", Settings: tc.settings}
			bi.Main = debug.Module{Path: "github.com/flowaudit/flowaudit", Version: tc.version}
			return bi, true
		}
		if got := buildVersion(read); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVersionFlag: --version and the reports' tool field say the same
// version. ldflags set it in `make build`; the tests' own build info has
// no version, so it is buildVersion's, whatever that is, in both places.
func TestVersionFlag(t *testing.T) {
	if want := buildVersion(readBuildInfo); version != want {
		t.Fatalf("version %q, want %q from the build info (no -ldflags in tests)", version, want)
	}
	out, _, err := runCLI(t, "--version")
	if err != nil || out != "flowaudit version "+version+"\n" {
		t.Errorf("--version: %q %v", out, err)
	}
	out, _, _ = runCLI(t, "replay", "-p", "mailcleaner", "-f", "json", "--fail-on", "none", "../../testdata/example/gateway.pcap")
	if !strings.Contains(out, `"tool": "flowaudit `+version+`"`) {
		t.Errorf("report's tool field is not flowaudit %s: %.300s", version, out)
	}
}

// TestVersionLdflags: a binary built with -ldflags -X main.version says
// that version; one built without says the build info's.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "flowaudit")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || string(out) != "flowaudit version v9.8.7-test\n" {
		t.Errorf("with -X main.version: %q %v", out, err)
	}
}
