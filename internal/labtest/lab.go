// Package labtest is test support, imported by _test.go files only (a
// test in internal/deptest checks it): it drives the project's
// network-namespace lab (testdata/lab/lab.sh, described in docs/lab.md)
// from Go tests: a mail gateway, a firewall and "the internet" in three
// namespaces, firewall policies and traffic per named scenario, and the
// truth each scenario must yield.
//
// Tests that need the lab are named TestPrivileged...; they call Require
// (or Up, which calls it) so that they skip with a clear message when not
// root, and fail instead under CI=true. The truth and capture helpers
// (LoadTruth, CheckCapture) need no privilege.
package labtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Roles of the lab's namespaces, as NS, Exec and Command take them.
const (
	Gateway  = "gw"   // the mail gateway; its interface is GatewayIface
	Firewall = "fw"   // the router whose nftables policy each scenario sets
	Internet = "inet" // peers, listeners and the resolver
)

// Tools the lab needs, with the Debian package that provides each.
var tools = []struct{ cmd, pkg string }{
	{"ip", "iproute2"},
	{"nft", "nftables"},
	{"socat", "socat"},
	{"dnsmasq", "dnsmasq-base"},
	{"tcpdump", "tcpdump"},
	{"dig", "dnsutils"},
	{"ping", "iputils-ping"},
}

// Require skips t unless the lab can run here: root, and every tool the
// lab script uses. Under CI=true it fails instead, because CI must run
// the privileged tests.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces, nftables and tcpdump (run: sudo -E go test -run Privileged ./...)"
	} else {
		for _, tool := range tools {
			if _, err := exec.LookPath(tool.cmd); err != nil {
				why = fmt.Sprintf("needs %s: install the Debian package %s", tool.cmd, tool.pkg)
				break
			}
		}
	}
	if why == "" {
		if _, err := Script(); err != nil {
			why = err.Error()
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab: %s (CI=true: privileged tests must run)", why)
	}
	t.Skipf("lab: %s", why)
}

// Script returns the path of testdata/lab/lab.sh, found by walking up from
// the working directory to the module root (the directory with go.mod).
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find lab script: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "testdata", "lab", "lab.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("find lab script: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find lab script: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Lab is one running lab. Its namespaces are removed by the t.Cleanup
// that Up registers, also when the test fails.
type Lab struct {
	// ID distinguishes this lab's namespaces (fa-ROLE-ID) from those of
	// labs running in parallel.
	ID     string
	script string
}

var seq atomic.Uint32

// NewID returns an ID unique among labs on this machine while this
// process runs: letters and digits, at most 12, as lab.sh accepts.
func NewID() string {
	return fmt.Sprintf("g%d%c%d", os.Getpid()%1000000, 'a'+rune(time.Now().UnixNano()%26), seq.Add(1)%1000)
}

// Up brings a lab up with a fresh ID and registers its removal with
// t.Cleanup. It calls Require first.
func Up(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	script, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{ID: NewID(), script: script}
	// Cleanup is registered before up: a half-built lab is removed too.
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("lab %s: %v", l.ID, err)
		}
	})
	if err := l.run("up", l.ID); err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return l
}

// Down removes the lab's namespaces (their veth pairs go with them) and
// every process inside them. It is safe to call more than once.
func (l *Lab) Down() error { return l.run("down", l.ID) }

// NS returns the name of the namespace playing role (Gateway, Firewall or
// Internet), for `ip netns exec`.
func (l *Lab) NS(role string) string { return "fa-" + role + "-" + l.ID }

// GatewayIface is the gateway's interface inside NS(Gateway): the one to
// capture on. Every packet between the gateway and the rest of the lab
// crosses it.
func (l *Lab) GatewayIface() string { return "gw0" }

// Exec runs args inside the namespace playing role and waits for it. The
// error carries the command's output.
func (l *Lab) Exec(role string, args ...string) error {
	if len(args) == 0 {
		return errors.New("lab exec: no command")
	}
	return l.run(append([]string{"exec", l.ID, role}, args...)...)
}

// Command returns an unstarted command that runs args inside the
// namespace playing role. `ip netns exec` replaces itself with the
// program, so signals sent to cmd.Process (SIGINT to stop a capture)
// reach the program itself.
func (l *Lab) Command(role string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.NS(role)}, args...)...)
}

// Scenario runs the named scenario (testdata/lab/scenarios/NAME.tsv): it
// loads the firewall policy, starts the listeners and drives every row's
// traffic, each attempt bounded by a few seconds.
func (l *Lab) Scenario(name string) error { return l.run("scenario", l.ID, name) }

// Record runs the named scenario while tcpdump records GatewayIface into
// out (pcap), and writes the scenario's truth next to it (out without
// .pcap, plus .truth.yaml).
func (l *Lab) Record(name, out string) error { return l.run("record", l.ID, name, out) }

// TruthPath is where Record writes the truth of a capture at pcap.
func TruthPath(pcap string) string { return strings.TrimSuffix(pcap, ".pcap") + ".truth.yaml" }

func (l *Lab) run(args ...string) error {
	cmd := exec.Command("bash", append([]string{l.script}, args...)...)
	cmd.Env = append(os.Environ(), "FA_LAB_QUIET=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab.sh %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
