package render

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestPendingInEveryFormat: flows the end of the capture cut off are shown
// next to an ok and a blocked requirement in every format, and a
// requirement whose only attempt was cut off reads inconclusive (tried,
// not judged) with how much longer to capture.
func TestPendingInEveryFormat(t *testing.T) {
	end := time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
	anyPeer := []catalog.Peer{{Kind: catalog.PeerAny}}
	p := &catalog.Product{Name: "p", Requirements: []catalog.Requirement{
		{ID: "smtp-out", Direction: catalog.Out, Protocol: catalog.TCP, Ports: []catalog.PortRange{{25, 25}}, Peers: anyPeer},
		{ID: "ssh-out", Direction: catalog.Out, Protocol: catalog.TCP, Ports: []catalog.PortRange{{22, 22}}, Peers: anyPeer},
		{ID: "dns-out", Direction: catalog.Out, Protocol: catalog.UDP, Ports: []catalog.PortRange{{53, 53}}, Peers: anyPeer}}}
	f := func(proto uint8, resp string, out flow.Outcome, age time.Duration, open bool) flow.Flow {
		return flow.Flow{Proto: proto, Orig: netip.MustParseAddrPort("192.0.2.10:40000"), Resp: netip.MustParseAddrPort(resp),
			Start: end.Add(-age), End: end.Add(-age), Outcome: out, OrigPkts: 1, Open: open}
	}
	flows := []flow.Flow{
		f(flow.ProtoTCP, "203.0.113.25:25", flow.Unanswered, 500*time.Millisecond, true), // smtp-out: inconclusive, pending
		f(flow.ProtoTCP, "203.0.113.22:22", flow.Established, time.Minute, false),        // ssh-out: ok, and pending
		f(flow.ProtoTCP, "203.0.113.22:22", flow.Unanswered, 500*time.Millisecond, true),
		f(flow.ProtoUDP, "203.0.113.53:53", flow.Unanswered, time.Minute, false), // dns-out: blocked, and pending
		f(flow.ProtoUDP, "203.0.113.53:53", flow.Unanswered, 500*time.Millisecond, true),
	}
	rep, err := analyze.Audit(&capture.Result{Flows: flows, Stats: capture.Stats{Backend: "file", End: end}},
		analyze.Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{netip.MustParseAddr("192.0.2.10")}})
	if err != nil {
		t.Fatal(err)
	}
	for id, st := range map[string]analyze.Status{"smtp-out": analyze.Inconclusive, "ssh-out": analyze.OK, "dns-out": analyze.Blocked} {
		i := slices.IndexFunc(rep.Requirements, func(r analyze.Requirement) bool { return r.ID == id })
		if i < 0 {
			t.Fatalf("no requirement %s", id)
		}
		if r := rep.Requirements[i]; r.Status != st || r.Counts.Pending != 1 {
			t.Fatalf("%s: %s %+v; want %s with 1 pending", id, r.Status, r.Counts, st)
		}
	}
	// notes: tables give the note of inconclusive and ok requirements
	// (blocked ones have the reason line); HTML gives every requirement's
	// note.
	formats := []struct {
		name   string
		render func(io.Writer, *analyze.Report, Options) error
		notes  int
	}{
		{"table", Table, 2},
		{"markdown", Markdown, 2},
		{"html", HTML, 3},
		{"json", func(w io.Writer, rep *analyze.Report, _ Options) error { return json.NewEncoder(w).Encode(rep) }, 3},
	}
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := fm.render(&b, rep, Options{}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if fm.name != "json" && strings.Count(out, "pending: capture ended before an answer (1)") != 1 {
				t.Errorf("the pending outcome is not shown once:\n%s", out)
			}
			if !strings.Contains(strings.ToLower(out), "inconclusive") {
				t.Errorf("no inconclusive status:\n%s", out)
			}
			for want, n := range map[string]int{
				"1 attempt(s) still waiting for an answer when the capture ended": fm.notes,
				"capture at least 1 s longer to judge them":                       fm.notes,
				"3 flow(s) were still waiting for an answer":                      1,
			} {
				if got := strings.Count(out, want); got != n {
					t.Errorf("%q %d times, want %d:\n%s", want, got, n, out)
				}
			}
		})
	}
}
