package session

import (
	"bytes"
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

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func sampleFlows(n int, base time.Time) []flow.Flow {
	out := make([]flow.Flow, n)
	for i := range out {
		out[i] = flow.Flow{
			UID:      fmt.Sprintf("C%d", i),
			Proto:    flow.ProtoTCP,
			Orig:     netip.MustParseAddrPort("192.0.2.10:40000"),
			Resp:     netip.AddrPortFrom(netip.MustParseAddr("203.0.113.5"), uint16(25+i%3)),
			Start:    base.Add(time.Duration(i) * time.Second),
			End:      base.Add(time.Duration(i)*time.Second + 50*time.Millisecond),
			OrigPkts: 3, RespPkts: 2, OrigBytes: 100, RespBytes: 200,
			State: flow.StateSF, History: "ShADadFf", Outcome: flow.Established, Attempts: 1,
			RespNames: []string{"mx.example.com"},
		}
	}
	if n > 1 {
		out[1].Outcome = flow.Unreachable
		out[1].State = flow.StateS0
		out[1].ICMP = &flow.ICMPError{Type: 3, Code: 13, Version: 4,
			From: netip.MustParseAddr("198.51.100.1"), Time: base.Add(time.Second), Reason: "admin-prohibited"}
	}
	return out
}

// saveAs saves s under name and returns the name.
func saveAs(t *testing.T, name string, s *Session) string {
	t.Helper()
	if err := Save(name, s); err != nil {
		t.Fatal(err)
	}
	return name
}

func sampleSession(node string, n int) *Session {
	res := &capture.Result{
		Flows: sampleFlows(n, t0),
		Stats: capture.Stats{Backend: "afpacket", Iface: "eth0", Start: t0, End: t0.Add(time.Minute),
			Packets: 10, Bytes: 1000, Flows: uint64(n), KernelDrops: 2,
			Warnings: []string{"kernel dropped 2 packets"}},
	}
	s := New(res, node, "v1.2.3", t0, t0.Add(time.Minute))
	s.Hosts = []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	s.HostsHow = "interface eth0 addresses"
	return s
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	want := sampleSession("gw1", 3)
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
	if got.Format != Format || got.Version != Version {
		t.Errorf("header = %q %d", got.Format, got.Version)
	}
	// No temporary file is left next to it.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the session", len(ents))
	}
}

func TestLoadErrors(t *testing.T) {
	good, err := os.ReadFile(writeSample(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string
		is      error
		msg     string
	}{
		{"empty", "", ErrCorrupt, "empty file"},
		{"truncated", string(good[:len(good)/2]), ErrCorrupt, "truncated"},
		{"garbage", "{\"format\": \"flowaudit-session\", \"version\": 1, \"flows\": [}", ErrCorrupt, "line 1 column"},
		{"wrong type", `{"format":"flowaudit-session","version":1,"flows":"x"}`, ErrCorrupt, `flows: want an array, got string "x"`},
		{"not a session", `{"flows":[]}`, ErrNotSession, "not a flowaudit session"},
		{"other format", `{"format":"pcap","version":1}`, ErrNotSession, "not a flowaudit session"},
		{"newer version", `{"format":"flowaudit-session","version":2,"flows":{"changed":true}}`, ErrVersion, "unsupported session version 2 (this flowaudit reads version 1"},
		{"no version", `{"format":"flowaudit-session"}`, ErrCorrupt, "no version"},
		{"not json", "\x89PNG\r\n", ErrNotSession, "not a flowaudit session file (not JSON)"},
		{"json array", `[{"format":"flowaudit-session","version":1}]`, ErrNotSession, "not a flowaudit session file (JSON array, not an object)"},
		{"version as string", `{"format":"flowaudit-session","version":"1"}`, ErrCorrupt, `version: want a whole number, got string "1"`},
		{"format as number", `{"format":7,"version":1}`, ErrCorrupt, "format: want a string, got 7"},
		{"header only", `{"format":"flowaudit-session","version":1}`, ErrCorrupt, "flows: missing"},
		{"flows key deleted", strings.Replace(string(good), `"flows": [`, `"flows_gone": [`, 1), ErrCorrupt, "flows: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Load error %v, want %v", err, tc.is)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.msg) || !strings.Contains(msg, path) || strings.Contains(msg, "\n") {
				t.Errorf("message %q: want one line naming %s and containing %q", msg, path, tc.msg)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func writeSample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.json")
	if err := Save(path, sampleSession("gw1", 20)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMergeTwoSessions(t *testing.T) {
	a := sampleSession("gw-a", 2)
	b := sampleSession("", 3)
	for i := range b.Flows {
		b.Flows[i].Start = b.Flows[i].Start.Add(500 * time.Millisecond)
	}
	b.Stats.Iface = "eth1"
	b.Stats.Start = t0.Add(-time.Minute)
	b.Stats.End = t0.Add(2 * time.Minute)
	b.Hosts = []netip.Addr{netip.MustParseAddr("192.0.2.11")}
	b.HostsHow = "--host"

	res := Merge(a, b)
	if len(res.Flows) != 5 {
		t.Fatalf("%d flows, want 5", len(res.Flows))
	}
	nodes := map[string]int{}
	for i, f := range res.Flows {
		nodes[f.Node]++
		if i > 0 && f.Start.Before(res.Flows[i-1].Start) {
			t.Errorf("flow %d out of time order", i)
		}
	}
	if nodes["gw-a"] != 2 || nodes["session-2"] != 3 {
		t.Errorf("nodes = %v, want gw-a:2 session-2:3", nodes)
	}
	st := res.Stats
	if st.Packets != 20 || st.KernelDrops != 4 || st.Flows != 5 {
		t.Errorf("summed stats: packets %d drops %d flows %d", st.Packets, st.KernelDrops, st.Flows)
	}
	if !st.Start.Equal(t0.Add(-time.Minute)) || !st.End.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("span %v - %v", st.Start, st.End)
	}
	wantSpans := []capture.Span{{Node: "gw-a", Start: a.Stats.Start, End: a.Stats.End}, {Node: "session-2", Start: b.Stats.Start, End: b.Stats.End}}
	if !slices.Equal(st.Spans, wantSpans) {
		t.Errorf("spans %+v, want %+v", st.Spans, wantSpans)
	}
	if st.Iface != "gw-a:eth0,session-2:eth1" || st.Backend != "afpacket" {
		t.Errorf("iface %q backend %q", st.Iface, st.Backend)
	}
	if len(st.Warnings) != 2 || !strings.HasPrefix(st.Warnings[0], "gw-a: ") {
		t.Errorf("warnings %q", st.Warnings)
	}
	// The inputs are not modified.
	if a.Flows[0].Node != "" {
		t.Error("Merge changed its input")
	}
	hosts, how := Hosts(a, b)
	if len(hosts) != 3 || how != "gw-a: interface eth0 addresses; session-2: --host" {
		t.Errorf("hosts %v how %q", hosts, how)
	}
}

// FuzzRead: any input is either a session or one error line, never a
// panic; what Read accepts holds only usable values, merges, and saves
// and reads back.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"flows":[]}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":2}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"flows":[{"proto":6,"orig":"192.0.2.1:1","resp":"[2001:db8::1]:25","outcome":"rejected","icmp":{"type":3,"from":"192.0.2.9"}}]}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"node":"gw1","hosts":["192.0.2.1"],"flows":[{"proto":6,"orig":"192.0.2.1:1","resp":"198.51.100.1:25","outcome":"established","conn_state":"SF"}]}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"flows":[{"proto":"tcp","orig":"x","outcome":"bogus"}]}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":"1","hosts":["nope"],"stats":{"packets":"many"}}`))
	f.Add([]byte(`[{"format":"flowaudit-session"}]`))
	f.Add([]byte("{"))
	f.Add([]byte(`{"format":"flowaudit-session","version":1}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"flows":[null]}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"start":"0001-01-01T00:00:00Z","flows":[{"proto":17,"orig":"[2001:db8::1]:53","resp":"[2001:db8::2]:53","outcome":"unreachable","attempts":-1,"start":"2026-11-22T10:00:01Z","end":"2026-11-22T10:00:00Z","icmp":{"type":1,"code":4,"version":6,"from":"2001:db8::2","reason":"port-unreachable"}}]}`))
	// The stream reader's own paths: flows before the header, unknown keys
	// of every kind (skipped token by token), a value after the object.
	f.Add([]byte(`{"flows":[],"x":{"a":[1,{"b":null}],"c":"d"},"Format":"flowaudit-session","VERSION":1}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"flows":[]} {}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"stats":{"flows":1000000000},"flows":[null,{}]}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":1,"flows":{"a":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Read(bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if s.Flows == nil {
			t.Fatal("accepted without flows")
		}
		for i, fl := range s.Flows {
			if !slices.Contains(flow.Outcomes, fl.Outcome) || !fl.Orig.IsValid() || !fl.Resp.IsValid() {
				t.Fatalf("flow %d accepted with outcome %q orig %v resp %v", i, fl.Outcome, fl.Orig, fl.Resp)
			}
			if fl.Attempts < 0 || fl.End.Before(fl.Start) {
				t.Fatalf("flow %d accepted with attempts %d, start %v, end %v", i, fl.Attempts, fl.Start, fl.End)
			}
			if ic := fl.ICMP; ic != nil && (ic.Version != 4 && ic.Version != 6 ||
				!flow.ValidICMPReason(ic.Reason, ic.Type, ic.Code)) {
				t.Fatalf("flow %d accepted with ICMP %+v", i, *ic)
			}
		}
		// Two sessions of one node share every flow: each counts once.
		// Unnamed sessions are different nodes (session-1, session-2).
		want := len(s.Flows)
		if s.Node == "" {
			want *= 2
		}
		if n := len(Merge(s, s).Flows); n != want {
			t.Fatalf("merging a session of node %q with itself gave %d flows, want %d", s.Node, n, want)
		}
		if _, err := ResolveHosts(func(*Session) ([]netip.Addr, string, error) { return nil, "", nil }, s); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "s.json")
		if err := Save(path, s); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatalf("saved session does not load: %v", err)
		}
		// A session saved and loaded again is the same capture: LoadAll
		// refuses the two copies.
		if !SameCapture(s, back) {
			t.Fatalf("session of node %q start %v and its saved copy are not the same capture", s.Node, s.Start)
		}
	})
}
