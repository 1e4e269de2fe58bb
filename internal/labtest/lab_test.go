package labtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the module root, found from the lab script.
func repoRoot(t *testing.T) string {
	t.Helper()
	s, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(s)))
}

// committed lists the captures the lab recorded into the repository.
var committed = []struct {
	pcap string
	// minimum evidence each must hold
	retrans, rsts, admin4, admin6 int
}{
	{"testdata/lab/captures/mailcleaner.pcap", 1, 1, 1, 1},
	{"testdata/lab/captures/spamexperts.pcap", 1, 1, 1, 1},
	{"testdata/example/gateway.pcap", 1, 1, 1, 1},
}

// TestCommittedCaptures checks each recorded capture against its truth:
// every flow is on the wire with its outcome, and the packet kinds the
// end-to-end tests rely on are present.
func TestCommittedCaptures(t *testing.T) {
	root := repoRoot(t)
	for _, c := range committed {
		t.Run(filepath.Base(c.pcap), func(t *testing.T) {
			path := filepath.Join(root, c.pcap)
			tr, err := LoadTruth(TruthPath(path))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := CheckCapture(path, tr)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ev.Mismatches {
				t.Errorf("mismatch: %s", m)
			}
			if ev.SYNRetransmitted < c.retrans || ev.RSTs < c.rsts || ev.AdminProhibited4 < c.admin4 || ev.AdminProhibited6 < c.admin6 {
				t.Errorf("evidence %+v, want at least %d SYN retransmitted, %d RST, %d ICMP 3/13, %d ICMPv6 1/1",
					*ev, c.retrans, c.rsts, c.admin4, c.admin6)
			}
			if ev.ResetAfterHandshake != 0 {
				t.Errorf("%d established connections ended with RST", ev.ResetAfterHandshake)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() > 200<<10 {
				t.Errorf("capture %s: %v, size over 200 KiB", path, err)
			}
		})
	}
}

// TestTruthFresh regenerates each committed truth file from its scenario
// table and requires it unchanged, so tables and truth cannot drift.
func TestTruthFresh(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("awk not installed")
	}
	root := repoRoot(t)
	for _, c := range committed {
		path := TruthPath(filepath.Join(root, c.pcap))
		tr, err := LoadTruth(path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "t.yaml")
		cmd := exec.Command("bash", filepath.Join(root, "testdata/lab/lab.sh"), "truth", tr.Scenario, out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("lab.sh truth %s: %v: %s", tr.Scenario, err, b)
		}
		want, _ := os.ReadFile(path)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: re-record with testdata/lab/lab.sh oneshot %s %s", path, tr.Scenario, c.pcap)
		}
	}
}

// TestTruthPorts recomputes every truth file's per-port summary from its
// flows.
func TestTruthPorts(t *testing.T) {
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "testdata/lab/captures/*.truth.yaml"))
	files = append(files, filepath.Join(root, "testdata/example/gateway.truth.yaml"))
	for _, f := range files {
		tr, err := LoadTruth(f)
		if err != nil {
			t.Fatal(err)
		}
		type agg struct{ ok, failed, hidden int }
		by := map[string]*agg{}
		for i := range tr.Flows {
			fl := &tr.Flows[i]
			a := by[fl.key()]
			if a == nil {
				a = &agg{}
				by[fl.key()] = a
			}
			switch {
			case !fl.Captured:
				a.hidden++
			case fl.Outcome == "established":
				a.ok++
			default:
				a.failed++
			}
		}
		if len(by) != len(tr.Ports) {
			t.Errorf("%s: %d port groups in flows, %d in ports", f, len(by), len(tr.Ports))
		}
		for _, p := range tr.Ports {
			a := by[fmt.Sprintf("%s/%s/%d", p.Direction, p.Protocol, p.Port)]
			if a == nil {
				t.Errorf("%s: port %+v has no flows", f, p)
				continue
			}
			want := "never-seen"
			switch {
			case a.ok > 0 && a.failed == 0:
				want = "ok"
			case a.ok > 0:
				want = "partial"
			case a.failed > 0:
				want = "blocked"
			}
			if p.Status != want || p.Established != a.ok || p.Failed != a.failed {
				t.Errorf("%s: port %+v, flows say %s (%d ok, %d failed)", f, p, want, a.ok, a.failed)
			}
		}
	}
}

func TestICMPReason(t *testing.T) {
	for _, c := range []struct {
		v6         bool
		typ, code  uint8
		wantReason string
	}{
		{false, 3, 13, "admin-prohibited"},
		{false, 3, 10, "admin-prohibited"},
		{true, 1, 1, "admin-prohibited"},
		{false, 3, 3, "port-unreachable"},
		{true, 1, 4, "port-unreachable"},
		{false, 3, 1, "icmp-3-1"},
		{true, 3, 0, "icmp-3-0"},
	} {
		if got := icmpReason(c.v6, c.typ, c.code); got != c.wantReason {
			t.Errorf("icmpReason(%v, %d, %d) = %q, want %q", c.v6, c.typ, c.code, got, c.wantReason)
		}
	}
}

func TestQuotedShort(t *testing.T) {
	for _, n := range []int{0, 19, 23} {
		if _, ok := quoted(false, make([]byte, n)); ok {
			t.Errorf("quoted v4 accepted %d bytes", n)
		}
	}
	if _, ok := quoted(true, make([]byte, 43)); ok {
		t.Error("quoted v6 accepted 43 bytes")
	}
}

func TestLoadTruthErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":   "",
		"badaddr": "scenario: x\ngateway: [\"nope\"]\nflows: [{row: \"1\", direction: out, protocol: tcp, gateway: \"192.0.2.1\", peer: \"192.0.2.2\", port: 1, outcome: established, captured: true}]\n",
		"badout":  "scenario: x\ngateway: [\"192.0.2.1\"]\nflows: [{row: \"1\", direction: out, protocol: tcp, gateway: \"192.0.2.1\", peer: \"192.0.2.2\", port: 1, outcome: fine, captured: true}]\n",
		"hidden":  "scenario: x\ngateway: [\"192.0.2.1\"]\nflows: [{row: \"1\", direction: in, protocol: tcp, gateway: \"192.0.2.1\", peer: \"192.0.2.2\", port: 1, outcome: not-captured, captured: true}]\n",
		"yaml":    "scenario: [\n",
	} {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTruth(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: LoadTruth error %v, want one naming the file", name, err)
		}
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		if len(id) > 12 || seen[id] {
			t.Fatalf("NewID %q: too long or repeated", id)
		}
		seen[id] = true
	}
}

// TestCheckCaptureDetects proves CheckCapture is not blind: a truth that
// is wrong about one flow must produce a mismatch for that flow.
func TestCheckCaptureDetects(t *testing.T) {
	path := filepath.Join(repoRoot(t), "testdata/lab/captures/mailcleaner.pcap")
	for _, c := range []struct {
		name   string
		mutate func(f *TruthFlow) bool // true when it changed f
	}{
		{"established called unanswered", func(f *TruthFlow) bool {
			if f.Outcome == "established" && f.Protocol == "tcp" {
				f.Outcome = "unanswered"
				return true
			}
			return false
		}},
		{"admin-prohibited called port-unreachable", func(f *TruthFlow) bool {
			if f.Reason == "admin-prohibited" {
				f.Reason = "port-unreachable"
				return true
			}
			return false
		}},
		{"filtered inbound called captured", func(f *TruthFlow) bool {
			if !f.Captured {
				f.Captured, f.Outcome = true, "unanswered"
				return true
			}
			return false
		}},
		{"unexpected extra flow", func(f *TruthFlow) bool {
			if f.Label == "irc" {
				f.Port = 6697
				return true
			}
			return false
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := LoadTruth(TruthPath(path))
			if err != nil {
				t.Fatal(err)
			}
			changed := ""
			for i := range tr.Flows {
				if c.mutate(&tr.Flows[i]) {
					changed = tr.Flows[i].Row
					break
				}
			}
			if changed == "" {
				t.Fatal("no flow to mutate")
			}
			ev, err := CheckCapture(path, tr)
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.Mismatches) == 0 {
				t.Errorf("row %s changed, no mismatch reported", changed)
			}
		})
	}
}
