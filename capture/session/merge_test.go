package session

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMergeSameNodeTwice: two sessions of one node whose spans overlap
// hold some of the same flows; each is counted once (the finished copy
// kept), and only across sessions of that node.
func TestMergeSameNodeTwice(t *testing.T) {
	a := sampleSession("gw1", 4) // flows at t0+0s..3s
	b := sampleSession("gw1", 4)
	b.Start = t0.Add(2 * time.Second)
	// b holds a's last two flows (t0+2s, t0+3s) and two later ones.
	b.Flows = append(slices.Clone(a.Flows[2:]), b.Flows[:2]...)
	for i := 2; i < 4; i++ {
		b.Flows[i].Start = b.Flows[i].Start.Add(4 * time.Second)
	}
	a.Flows[3].Open = true // still open when a stopped; b saw it finish
	other := sampleSession("gw2", 4)
	other.Stats.ReadErrors = []string{"x.pcap: truncated"}
	other.Stats.Interrupted = true

	tests := []struct {
		name      string
		sessions  []*Session
		flows     int
		statFlows uint64
		warning   string
	}{
		{"same node overlapping", []*Session{a, b}, 6, 6, "gw1: 2 flow(s) recorded by two sessions of this node (their spans overlap) were counted once"},
		{"other node keeps its copies", []*Session{a, other}, 8, 8, ""},
		{"three sessions", []*Session{a, b, other}, 10, 10, "gw1: 2 flow(s)"},
		{"one session", []*Session{a}, 4, 4, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Merge(tc.sessions...)
			if len(res.Flows) != tc.flows || res.Stats.Flows != tc.statFlows {
				t.Errorf("%d flows (stats %d), want %d (%d)", len(res.Flows), res.Stats.Flows, tc.flows, tc.statFlows)
			}
			seen := map[string]int{}
			for _, f := range res.Flows {
				k := fmt.Sprint(f.Node, f.Proto, f.Orig, f.Resp, f.Start)
				if seen[k]++; seen[k] > 1 && f.Node == "gw1" {
					t.Errorf("flow %s counted twice", k)
				}
				if tc.warning != "" && f.Node == "gw1" && f.Start.Equal(t0.Add(3*time.Second)) && f.Open {
					t.Error("kept the open copy of a flow another session saw finish")
				}
			}
			joined := strings.Join(res.Stats.Warnings, "\n")
			if tc.warning != "" && !strings.Contains(joined, tc.warning) {
				t.Errorf("warnings %q, want %q", res.Stats.Warnings, tc.warning)
			}
			if tc.warning == "" && strings.Contains(joined, "counted once") {
				t.Errorf("unexpected duplicate warning: %q", res.Stats.Warnings)
			}
		})
	}
	if a.Flows[0].Node != "" || !a.Flows[3].Open {
		t.Error("Merge changed its input")
	}
	// Loss evidence is kept: a read error or interruption on one node.
	res := Merge(a, other)
	if !res.Stats.Interrupted || !reflect.DeepEqual(res.Stats.ReadErrors, []string{"gw2: x.pcap: truncated"}) || !res.Stats.LossSeen() {
		t.Errorf("interrupted %v read errors %q", res.Stats.Interrupted, res.Stats.ReadErrors)
	}
	// One session's own flows are never merged with each other.
	c := sampleSession("gw1", 2)
	c.Flows[1] = c.Flows[0]
	if res := Merge(c, b); len(res.Flows) != 6 {
		t.Errorf("%d flows, want 6: a session's own identical flows were merged", len(res.Flows))
	}
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// gatewaySession is a session of node whose flows all leave from gw,
// recording hosts (nil: none, as older replays saved).
func gatewaySession(node, gw string, hosts []netip.Addr, how string) *Session {
	s := sampleSession(node, 3)
	for i := range s.Flows {
		s.Flows[i].Orig = netip.AddrPortFrom(netip.MustParseAddr(gw), 40000)
	}
	s.Hosts, s.HostsHow = hosts, how
	return s
}

// TestResolveHosts: every session without hosts gets its own inferred
// from its own flows; the result is the union, and says which came from
// where.
func TestResolveHosts(t *testing.T) {
	// The stand-in inference takes the first flow's originator.
	infer := func(s *Session) ([]netip.Addr, string, error) {
		if len(s.Flows) == 0 {
			return nil, "inferred: no flows", nil
		}
		return []netip.Addr{s.Flows[0].Orig.Addr()}, "inferred from its flows", nil
	}
	gw1Given := gatewaySession("gw1", "192.0.2.10", addrs("192.0.2.10", "2001:db8::10"), "--host")
	gw1Bare := gatewaySession("gw1", "192.0.2.10", nil, "")
	gw2Bare := gatewaySession("gw2", "192.0.2.11", nil, "")
	gw2Recorded := gatewaySession("gw2", "192.0.2.11", addrs("192.0.2.11"), "")
	gw2Replayed := gatewaySession("gw2", "192.0.2.11", addrs("192.0.2.11"), "inferred from the traffic (...)")
	empty := gatewaySession("gw3", "192.0.2.12", nil, "")
	empty.Flows = nil
	tests := []struct {
		name     string
		sessions []*Session
		want     []netip.Addr
		how      string
		inferred []string
	}{
		{"both without hosts", []*Session{gw1Bare, gw2Bare}, addrs("192.0.2.10", "192.0.2.11"),
			"sessions: gw1 192.0.2.10 (inferred from its flows); gw2 192.0.2.11 (inferred from its flows)", []string{"gw1", "gw2"}},
		{"mixed", []*Session{gw1Given, gw2Bare}, addrs("192.0.2.10", "192.0.2.11", "2001:db8::10"),
			"sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw2 192.0.2.11 (inferred from its flows)", []string{"gw2"}},
		{"recorded without how", []*Session{gw1Given, gw2Recorded}, addrs("192.0.2.10", "192.0.2.11", "2001:db8::10"),
			"sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw2 192.0.2.11 (recorded in the session)", nil},
		{"recorder inferred", []*Session{gw1Given, gw2Replayed}, addrs("192.0.2.10", "192.0.2.11", "2001:db8::10"),
			"sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw2 192.0.2.11 (inferred from the traffic (...))", []string{"gw2"}},
		{"same node twice", []*Session{gw1Given, gw1Given}, addrs("192.0.2.10", "2001:db8::10"),
			"sessions: gw1 192.0.2.10, 2001:db8::10 (--host)", nil},
		{"nothing to infer from", []*Session{gw1Given, empty}, addrs("192.0.2.10", "2001:db8::10"),
			"sessions: gw1 192.0.2.10, 2001:db8::10 (--host); gw3 none (inferred: no flows)", []string{"gw3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ResolveHosts(infer, tc.sessions...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Addrs, tc.want) || r.How != tc.how {
				t.Errorf("got %v %q\nwant %v %q", r.Addrs, r.How, tc.want, tc.how)
			}
			var inferred []string
			for _, h := range r.Inferred() {
				inferred = append(inferred, h.Node)
			}
			if !reflect.DeepEqual(inferred, tc.inferred) {
				t.Errorf("inferred %v, want %v", inferred, tc.inferred)
			}
		})
	}
	boom := errors.New("boom")
	_, err := ResolveHosts(func(*Session) ([]netip.Addr, string, error) { return nil, "", boom }, gw1Given, gw2Bare)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "session gw2") {
		t.Errorf("infer error: %v", err)
	}
}

// TestLoadAll: one capture given twice, under any name, is refused with
// the files named; two captures of one node are not.
func TestLoadAll(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	a := saveAs(t, "a.json", sampleSession("gw1", 2))
	copyA := saveAs(t, "copy.json", sampleSession("gw1", 2))
	later := sampleSession("gw1", 2)
	later.Start = later.Start.Add(time.Hour)
	b := saveAs(t, "b.json", later)
	other := saveAs(t, "gw2.json", sampleSession("gw2", 2))
	if err := os.Link(a, "hard.json"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, a), "sym.json"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  string // "" = loads
	}{
		{"same path", []string{a, a}, "session a.json is given twice: each flow would count twice"},
		{"same file, two spellings", []string{a, "./" + a}, "sessions a.json and ./a.json are the same file: each flow would count twice"},
		{"absolute and relative", []string{a, filepath.Join(dir, a)}, "sessions a.json and " + filepath.Join(dir, a) + " are the same file"},
		{"hard link", []string{"hard.json", a}, "sessions hard.json and a.json are the same file"},
		{"symlink", []string{a, "sym.json"}, "sessions a.json and sym.json are the same file"},
		{"copy of one capture", []string{a, other, copyA}, `sessions a.json and copy.json are the same capture (node "gw1", start 2026-11-22T10:00:00Z): each flow would count twice`},
		{"one node captured twice", []string{a, b}, ""},
		{"two nodes", []string{a, other}, ""},
		{"missing file", []string{a, "nope.json"}, "session nope.json: open: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := LoadAll(tc.paths...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && len(ss) != len(tc.paths):
				t.Fatalf("%d sessions", len(ss))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			case tc.want != "" && strings.Contains(tc.want, "same") && !errors.Is(err, ErrDuplicate):
				t.Errorf("%v is not ErrDuplicate", err)
			}
		})
	}
}
