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
	return &Session{
		Version: Version,
		Header:  Header{ToolVersion: "v1.2.3", Node: node, Iface: "eth0", Backend: "afpacket", Start: t0},
		Trailer: Trailer{End: t0.Add(time.Minute),
			Hosts: capture.HostsDecision{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")},
				Origin: capture.OriginInterface, Iface: "eth0"},
			Stats: capture.Stats{Backend: "afpacket", Iface: "eth0", Start: t0, End: t0.Add(time.Minute),
				Packets: 10, Bytes: 1000, Flows: uint64(n), KernelDrops: 2,
				Warnings:   []string{"kernel dropped 2 packets"},
				LocalDrops: &capture.LocalDropStats{ByReason: map[string]uint64{"netfilter-drop": 3}, Recorded: 3}}},
		Flows: sampleFlows(n, t0),
	}
}

// merge merges sessions in memory and returns the flows (copies) and the
// stats.
func merge(t *testing.T, sessions ...*Session) ([]flow.Flow, capture.Stats) {
	t.Helper()
	var srcs []Source
	for _, s := range sessions {
		srcs = append(srcs, s.Source())
	}
	m := Merge(srcs...)
	var flows []flow.Flow
	for f := range m.Flows() {
		flows = append(flows, *f.Clone())
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	return flows, m.Stats()
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	want := sampleSession("gw1", 3)
	want.Context = &Context{Products: []string{"mailcleaner"}, Features: map[string]bool{"cluster": true},
		Catalogs: []FileRecord{{File: "o.yaml", SHA256: SHA256([]byte("x: 1\n")), Content: "x: 1\n"}},
		Site: &SiteRecord{File: "site.yaml", SHA256: "ab", Hosts: []netip.Addr{netip.MustParseAddr("192.0.2.10")},
			Zones: map[string][]netip.Prefix{"mgmt": {netip.MustParsePrefix("10.0.0.0/8")}}, Features: map[string]bool{"x": false}}}
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
	if got.Version != Version {
		t.Errorf("version %d", got.Version)
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
		{"newer version", `{"format":"flowaudit-session","version":3,"flows":{"changed":true}}`, ErrVersion, "unsupported session version 3 (this flowaudit reads versions 1 and 2"},
		{"no version", `{"format":"flowaudit-session"}`, ErrCorrupt, "no version"},
		{"not json", "\x89PNG\r\n", ErrNotSession, "not a flowaudit session file (not JSON)"},
		{"json array", `[{"format":"flowaudit-session","version":1}]`, ErrNotSession, "not a flowaudit session file (JSON array, not an object)"},
		{"version as string", `{"format":"flowaudit-session","version":"1"}`, ErrCorrupt, `version: want a whole number, got string "1"`},
		{"format as number", `{"format":7,"version":1}`, ErrCorrupt, "format: want a string, got 7"},
		{"header only", `{"format":"flowaudit-session","version":1}`, ErrCorrupt, "flows: missing"},
		{"flows key deleted", strings.Replace(string(good), `"flows": [`, `"flows_gone": [`, 1), ErrCorrupt, "flows: missing"},
		{"flows twice", `{"format":"flowaudit-session","version":2,"flows":[],"flows":[]}`, ErrCorrupt, "flows: given twice"},
		{"hosts origin", `{"format":"flowaudit-session","version":2,"flows":[],"hosts":{"addrs":[],"origin":"sessions"}}`, ErrCorrupt, `hosts.origin: unknown origin "sessions"`},
		{"hosts address", `{"format":"flowaudit-session","version":2,"flows":[],"hosts":{"addrs":["192.0.2.1",""],"origin":"flag"}}`, ErrCorrupt, `hosts.addrs[1]: "" is not an IP address`},
		{"catalog changed", `{"format":"flowaudit-session","version":2,"flows":[],"context":{"products":[],"catalogs":[{"file":"o.yaml","sha256":"00","content":"x"}]}}`, ErrCorrupt, `context.catalogs[0].sha256: "00" is not the SHA-256 of the content recorded`},
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

	flows, st := merge(t, a, b)
	if len(flows) != 5 {
		t.Fatalf("%d flows, want 5", len(flows))
	}
	// Session by session, each in the order it was recorded.
	for i, f := range flows {
		want, src := "gw-a", a.Flows[min(i, 1):]
		if i >= 2 {
			want, src = "session-2", b.Flows[i-2:]
		}
		if f.Node != want || f.UID != src[0].UID || !f.Start.Equal(src[0].Start) {
			t.Errorf("flow %d: node %q uid %q, want %q %q", i, f.Node, f.UID, want, src[0].UID)
		}
	}
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
}

// fuzzSeeds are FuzzRead's and FuzzOpen's seeds.
func fuzzSeeds(f *testing.F) {
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
	f.Add([]byte(`{"format":"flowaudit-session","version":2,"node":"gw1","start":"2026-11-22T10:00:00Z","flows":[{"proto":6,"orig":"192.0.2.1:1","resp":"198.51.100.1:25","outcome":"established","conn_state":"SF","start":"2026-11-22T10:00:00Z","end":"2026-11-22T10:00:01Z"}],"end":"2026-11-22T10:01:00Z","hosts":{"addrs":["192.0.2.1"],"origin":"inferred","inference":{"chosen":[{"addr":"192.0.2.1","flows":1,"family_flows":1}]}},"stats":{"backend":"file","flows":1}}`))
	f.Add([]byte(`{"format":"flowaudit-session","version":2,"context":{"products":["mailcleaner"],"catalogs":[{"file":"o","sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","content":"x"}],"site":{"file":"s","sha256":"","hosts":["192.0.2.1"],"zones":{"a":["10.0.0.0/8"]},"features":{"b":true}},"features":{"c":false}},"flows":[],"hosts":{"addrs":[],"origin":"none"}}`))
}

// FuzzRead: any input is either a session or one error line, never a
// panic; what Read accepts holds only usable values, merges, and saves
// and reads back.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
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
		if flows, _ := merge(t, s, s); len(flows) != want {
			t.Fatalf("merging a session of node %q with itself gave %d flows, want %d", s.Node, len(flows), want)
		}
		path := filepath.Join(t.TempDir(), "s.json")
		if err := Save(path, s); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatalf("saved session does not load: %v", err)
		}
		// A session saved and loaded again is the same capture: OpenAll
		// refuses the two copies.
		if same, err := SameCapture(s.Source(), back.Source()); err != nil || !same {
			t.Fatalf("session of node %q start %v and its saved copy are not the same capture", s.Node, s.Start)
		}
	})
}

// FuzzOpen: Open, which reads a file twice (everything but the flows,
// then the flows as they are iterated over), accepts exactly what Read
// accepts in one pass, and gives the same session.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		want, readErr := Read(bytes.NewReader(data))
		path := filepath.Join(t.TempDir(), "s.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path) // Open, then Flows
		switch {
		case (err == nil) != (readErr == nil):
			t.Fatalf("Open: %v; Read: %v", err, readErr)
		case err != nil:
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Open gave\n%+v\nRead gave\n%+v", got, want)
		}
	})
}
