package main

import (
	"runtime/debug"
	"strings"
)

// version is flowaudit's version: `flowaudit --version`, the `tool` of
// reports and diffs, the `tool_version` of sessions. `make build` sets it
// with -ldflags "-X main.version=..." (git describe); left empty, init
// takes it from the build info, so that a plain `go build` or
// `go install` binary says what it was built from too.
var version string

// readBuildInfo is debug.ReadBuildInfo; a variable so that tests can give
// a fake one.
var readBuildInfo = debug.ReadBuildInfo

func init() {
	if version == "" {
		version = buildVersion(readBuildInfo)
	}
}

// revisionLen is how much of the VCS revision the version shows: as much
// as Go's pseudo-versions (v0.0.0-20261204175704-2c9894d68d31) carry, so
// both read alike.
const revisionLen = 12

// buildVersion is the version the build info records, joined with "-":
// the main module's version unless it is "(devel)" (`go install m@v1.2.0`
// gives v1.2.0; go build in a git checkout gives a pseudo-version), the
// short VCS revision unless that version already holds it, and "dirty"
// when the checkout had uncommitted changes (vcs.modified, which Go also
// marks as a "+dirty" suffix: it is replaced, so the mark appears once).
// It is "dev" when the build info says nothing of either (`go test`,
// -buildvcs=false, a git worktree, whose .git is a file cmd/go does not
// look into).
func buildVersion(read func() (*debug.BuildInfo, bool)) string {
	bi, ok := read()
	if !ok || bi == nil {
		return "dev"
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	var parts []string
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		if base, ok := strings.CutSuffix(v, "+dirty"); ok {
			v, dirty = base, true
		}
		parts = append(parts, v)
	}
	rev = rev[:min(len(rev), revisionLen)]
	if rev != "" && (len(parts) == 0 || !strings.Contains(parts[0], rev)) {
		parts = append(parts, rev)
	}
	if len(parts) == 0 {
		return "dev"
	}
	if dirty {
		parts = append(parts, "dirty")
	}
	return strings.Join(parts, "-")
}
