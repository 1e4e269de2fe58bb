package session

import (
	"errors"
	"fmt"
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
	b.Stats.Start = b.Start
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
			flows, stats := merge(t, tc.sessions...)
			if len(flows) != tc.flows || stats.Flows != tc.statFlows {
				t.Errorf("%d flows (stats %d), want %d (%d)", len(flows), stats.Flows, tc.flows, tc.statFlows)
			}
			seen := map[string]int{}
			for _, f := range flows {
				k := fmt.Sprint(f.Node, f.Proto, f.Orig, f.Resp, f.Start)
				if seen[k]++; seen[k] > 1 && f.Node == "gw1" {
					t.Errorf("flow %s counted twice", k)
				}
				if tc.warning != "" && f.Node == "gw1" && f.Start.Equal(t0.Add(3*time.Second)) && f.Open {
					t.Error("kept the open copy of a flow another session saw finish")
				}
			}
			joined := strings.Join(stats.Warnings, "\n")
			if tc.warning != "" && !strings.Contains(joined, tc.warning) {
				t.Errorf("warnings %q, want %q", stats.Warnings, tc.warning)
			}
			if tc.warning == "" && strings.Contains(joined, "counted once") {
				t.Errorf("unexpected duplicate warning: %q", stats.Warnings)
			}
		})
	}
	if a.Flows[0].Node != "" || !a.Flows[3].Open {
		t.Error("Merge changed its input")
	}
	// Loss evidence is kept: a read error or interruption on one node.
	_, st := merge(t, a, other)
	if !st.Interrupted || !reflect.DeepEqual(st.ReadErrors, []string{"gw2: x.pcap: truncated"}) || !st.LossSeen() {
		t.Errorf("interrupted %v read errors %q", st.Interrupted, st.ReadErrors)
	}
	// One session's own flows are never merged with each other.
	c := sampleSession("gw1", 2)
	c.Flows[1] = c.Flows[0]
	if flows, _ := merge(t, c, b); len(flows) != 6 {
		t.Errorf("%d flows, want 6: a session's own identical flows were merged", len(flows))
	}
	// Two sessions of one node that do not overlap keep no key: a flow
	// (wrongly) in both is counted twice, and nothing is held.
	d := sampleSession("gw1", 2)
	d.Start, d.End = t0.Add(time.Hour), t0.Add(2*time.Hour)
	d.Stats.Start, d.Stats.End = d.Start, d.End
	srcs := []Source{sampleSession("gw1", 2).Source(), d.Source()}
	m := Merge(srcs...)
	o := newOverlaps(m)
	if o.laterOK[0] || o.earlierOK[1] {
		t.Error("sessions an hour apart are taken to overlap")
	}
	n := 0
	for range m.Flows() {
		n++
	}
	if n != 4 {
		t.Errorf("%d flows, want 4", n)
	}
}

// TestOpenAll: one capture given twice, under any name, is refused with
// the files named; two captures of one node are not.
func TestOpenAll(t *testing.T) {
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
			ss, err := openAll(t, tc.paths...)
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
