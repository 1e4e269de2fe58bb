package analyze

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// tEnd is the last packet of the captures in these tests.
var tEnd = t0.Add(time.Minute)

// open marks a flow still open at the end of input.
func open(f *flow.Flow) { f.Open = true }

// aged makes a flow start age before tEnd, its last packet last before
// tEnd (a retransmission, say).
func aged(age, last time.Duration) func(*flow.Flow) {
	return func(f *flow.Flow) { f.Start, f.End = tEnd.Add(-age), tEnd.Add(-last) }
}

func pendingProduct() *catalog.Product {
	return product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)),
		req("dns-out", catalog.Out, catalog.UDP, port(53)),
		req("ping-out", catalog.Out, catalog.ICMP, port(8)))
}

// TestPendingAtEndOfCapture: an open flow with no answer that started
// less than the window before the end of the capture is pending, neither
// an attempt nor a failure, but shown; everything else is judged as
// before.
func TestPendingAtEndOfCapture(t *testing.T) {
	const smtp, dns, ping = "203.0.113.25:25", "203.0.113.53:53", "203.0.113.9:0"
	young, old := aged(500*time.Millisecond, 0), aged(10*time.Second, 2*time.Second)
	synYoung := fl(tcp, gw4+":40000", smtp, flow.Unanswered, young, open)
	tests := []struct {
		name   string
		flows  []flow.Flow
		window time.Duration
		noEnd  bool // stats without End: the end is the latest flow's
		req    string
		status Status
		reason Reason
		// attempts, unanswered, pending are the requirement's counts.
		attempts, unanswered, pending int
	}{
		{"young open SYN alone", []flow.Flow{synYoung}, 0, false, "smtp-out", Inconclusive, "", 0, 0, 1},
		{"young open SYN, end from the flows", []flow.Flow{synYoung}, 0, true, "smtp-out", Inconclusive, "", 0, 0, 1},
		{"old open SYN retransmitted until the end", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Unanswered, aged(3*time.Second, 100*time.Millisecond), open)},
			0, false, "smtp-out", Blocked, ReasonUnanswered, 1, 1, 0},
		{"old open SYN", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Unanswered, old, open)}, 0, false, "smtp-out", Blocked, ReasonUnanswered, 1, 1, 0},
		{"young closed SYN (not open)", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Unanswered, young)}, 0, false, "smtp-out", Blocked, ReasonUnanswered, 1, 1, 0},
		{"young open SYN answered by RST", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Rejected, young, open)}, 0, false, "smtp-out", Blocked, ReasonRejected, 1, 0, 0},
		{"young open SYN answered by ICMP", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Unreachable, young, open, icmpErr("admin-prohibited", "198.51.100.1"))},
			0, false, "smtp-out", Blocked, ReasonAdminProhibited, 1, 0, 0},
		{"young open SYN after a success", []flow.Flow{fl(tcp, gw4+":40001", smtp, flow.Established, old), synYoung}, 0, false, "smtp-out", OK, "", 1, 0, 1},
		{"young open SYN after a silent drop", []flow.Flow{fl(tcp, gw4+":40001", smtp, flow.Unanswered, old), synYoung}, 0, false, "smtp-out", Blocked, ReasonUnanswered, 1, 1, 1},
		{"young open SYN, a success and a drop", []flow.Flow{fl(tcp, gw4+":40001", smtp, flow.Established, old),
			fl(tcp, gw4+":40002", smtp, flow.Unanswered, old), synYoung}, 0, false, "smtp-out", Partial, ReasonUnanswered, 2, 1, 1},
		{"young open SYN with an ICMP redirect", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Unanswered, young, open, func(f *flow.Flow) {
			f.ICMP = &flow.ICMPError{Type: 5, Code: 1, Version: 4, From: netip.MustParseAddr("192.0.2.1"), Reason: "icmp-5-1"}
		})}, 0, false, "smtp-out", Inconclusive, "", 0, 0, 1},
		{"young open UDP request", []flow.Flow{fl(udp, gw4+":5353", dns, flow.Unanswered, young, open)}, 0, false, "dns-out", Inconclusive, "", 0, 0, 1},
		{"old open UDP request", []flow.Flow{fl(udp, gw4+":5353", dns, flow.Unanswered, old, open)}, 0, false, "dns-out", Blocked, ReasonNoReply, 1, 1, 0},
		{"young open UDP request with ICMP error", []flow.Flow{fl(udp, gw4+":5353", dns, flow.Unreachable, young, open, icmpErr("port-unreachable", "203.0.113.53"))},
			0, false, "dns-out", Blocked, ReasonPortUnreachable, 1, 0, 0},
		{"young open UDP request answered", []flow.Flow{fl(udp, gw4+":5353", dns, flow.Established, young, open)}, 0, false, "dns-out", OK, "", 1, 0, 0},
		{"young open echo request", []flow.Flow{fl(icmp, gw4+":8", ping, flow.Unanswered, young, open)}, 0, false, "ping-out", Inconclusive, "", 0, 0, 1},
		{"old open echo request", []flow.Flow{fl(icmp, gw4+":8", ping, flow.Unanswered, old, open)}, 0, false, "ping-out", Blocked, ReasonUnanswered, 1, 1, 0},
		{"window off", []flow.Flow{synYoung}, -1, false, "smtp-out", Blocked, ReasonUnanswered, 1, 1, 0},
		{"wider window", []flow.Flow{fl(tcp, gw4+":40000", smtp, flow.Unanswered, old, open)}, 30 * time.Second, false, "smtp-out", Inconclusive, "", 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := capture.Stats{Backend: "file", End: tEnd}
			if tt.noEnd {
				st.End = time.Time{}
				// Another flow (unexpected) carries the capture's last packet.
				tt.flows = append(slices.Clone(tt.flows), fl(tcp, gw4+":40009", "203.0.113.99:22", flow.Established, aged(time.Minute, 0)))
			}
			opts := Options{Products: []*catalog.Product{pendingProduct()}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}, PendingWindow: tt.window}
			rep, err := Audit(&capture.Result{Flows: tt.flows, Stats: st}, opts)
			if err != nil {
				t.Fatal(err)
			}
			r := findReq(t, rep, tt.req)
			c := r.Counts
			if r.Status != tt.status || r.Reason != tt.reason || c.Attempts != tt.attempts || c.Unanswered != tt.unanswered || c.Pending != tt.pending {
				t.Errorf("status %s reason %q counts %+v; want %s %q, %d attempts, %d unanswered, %d pending",
					r.Status, r.Reason, c, tt.status, tt.reason, tt.attempts, tt.unanswered, tt.pending)
			}
			if (r.Note != "") != (tt.pending > 0) || (tt.pending > 0) != hasWarning(rep, "still waiting for an answer") {
				t.Errorf("note %q, warnings %q with %d pending", r.Note, rep.Warnings, tt.pending)
			}
			// Pending flows are evidence: in the peers and on the timeline.
			pendingSeen := 0
			for _, a := range r.Timeline {
				if a.Outcome == OutcomePending {
					pendingSeen++
					if a.Reason != "" {
						t.Errorf("pending attempt with reason %q", a.Reason)
					}
				}
			}
			peerPending := 0
			for _, p := range r.Peers {
				peerPending += p.Counts.Pending
				if p.Counts.Pending > 0 && !strings.Contains(r.Note, p.Addr.String()) {
					t.Errorf("note %q does not name the pending peer %s", r.Note, p.Addr)
				}
			}
			if pendingSeen != tt.pending || peerPending != tt.pending {
				t.Errorf("%d pending on the timeline, %d in the peers; want %d", pendingSeen, peerPending, tt.pending)
			}
			// Only attempts set the first and last seen times.
			if (r.FirstSeen == nil) != (tt.attempts == 0) {
				t.Errorf("first seen %v with %d attempts", r.FirstSeen, tt.attempts)
			}
			for _, rc := range r.Reasons {
				if rc.Flows > tt.attempts {
					t.Errorf("reason %s counts %d flows, more than the %d attempts", rc.Reason, rc.Flows, tt.attempts)
				}
			}
		})
	}
}

// TestPendingOnlyInconclusive: a requirement whose only attempts the end
// of the capture cut off was tried, not judged (inconclusive, never
// never-seen), and its note says how much longer to capture: the window
// less the age of the youngest pending attempt, in whole seconds rounded
// up. Pending attempts beside judged ones leave the verdict to those, the
// hint still given.
func TestPendingOnlyInconclusive(t *testing.T) {
	const smtp = "203.0.113.25:25"
	syn := func(port string, age time.Duration, mods ...func(*flow.Flow)) flow.Flow {
		return fl(tcp, gw4+":"+port, smtp, flow.Unanswered, append([]func(*flow.Flow){aged(age, 0), open}, mods...)...)
	}
	tests := []struct {
		name   string
		flows  []flow.Flow
		window time.Duration
		status Status
		hint   string // "" for no note
	}{
		{"one young SYN, default window", []flow.Flow{syn("40000", 500*time.Millisecond)}, 0, Inconclusive, "capture at least 1 s longer"},
		{"age 10 s of 30", []flow.Flow{syn("40000", 10*time.Second)}, 30 * time.Second, Inconclusive, "capture at least 20 s longer"},
		{"rounded up", []flow.Flow{syn("40000", 29500*time.Millisecond)}, 30 * time.Second, Inconclusive, "capture at least 1 s longer"},
		{"the youngest decides", []flow.Flow{syn("40000", 25*time.Second), syn("40001", 5*time.Second), syn("40002", 12*time.Second)},
			30 * time.Second, Inconclusive, "capture at least 25 s longer"},
		{"beside a success", []flow.Flow{fl(tcp, gw4+":40003", smtp, flow.Established, aged(time.Minute, 0)), syn("40000", 2*time.Second)},
			10 * time.Second, OK, "capture at least 8 s longer"},
		{"beside a drop", []flow.Flow{fl(tcp, gw4+":40003", smtp, flow.Unanswered, aged(time.Minute, 0)), syn("40000", 2*time.Second)},
			10 * time.Second, Blocked, "capture at least 8 s longer"},
		{"judged once old enough", []flow.Flow{syn("40000", 2*time.Second)}, 0, Blocked, ""},
		{"nothing tried", nil, 0, NeverSeen, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Products: []*catalog.Product{pendingProduct()}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}, PendingWindow: tt.window}
			rep, err := Audit(&capture.Result{Flows: tt.flows, Stats: capture.Stats{Backend: "file", End: tEnd}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			r := findReq(t, rep, "smtp-out")
			if r.Status != tt.status {
				t.Errorf("status %s, want %s (counts %+v)", r.Status, tt.status, r.Counts)
			}
			if tt.hint == "" && r.Note != "" || !strings.Contains(r.Note, tt.hint) {
				t.Errorf("note %q, want it to hold %q", r.Note, tt.hint)
			}
			if tt.status == Inconclusive && rep.Summary.Inconclusive != 1 {
				t.Errorf("summary %+v, want 1 inconclusive", rep.Summary)
			}
		})
	}
}

// TestPendingPerNode: merged sessions age each node's flows against that
// node's own last packet, not the latest of all nodes.
func TestPendingPerNode(t *testing.T) {
	early := tEnd.Add(-time.Hour) // gw1's capture ended an hour before gw2's
	flows := []flow.Flow{
		fl(tcp, gw4+":40000", "203.0.113.25:25", flow.Established, node("gw1"), func(f *flow.Flow) { f.Start, f.End = early.Add(-time.Minute), early }),
		fl(tcp, gw4+":40001", "203.0.113.25:25", flow.Unanswered, node("gw1"), open, func(f *flow.Flow) { f.Start, f.End = early.Add(-500*time.Millisecond), early }),
		fl(tcp, gw4+":40002", "203.0.113.26:25", flow.Established, node("gw2"), aged(time.Minute, 0)),
	}
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	rep, err := Audit(&capture.Result{Flows: flows, Stats: capture.Stats{End: tEnd}},
		Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
	if err != nil {
		t.Fatal(err)
	}
	r := findReq(t, rep, "smtp-out")
	if r.Status != OK || r.Counts.Pending != 1 || r.Counts.Unanswered != 0 {
		t.Errorf("status %s counts %+v; want ok with gw1's last SYN pending", r.Status, r.Counts)
	}
	for _, nc := range r.ByNode {
		if nc.Node == "gw1" && nc.Counts.Pending != 1 {
			t.Errorf("gw1 counts %+v, want 1 pending", nc.Counts)
		}
	}
}

// TestPendingStreamed: the Auditor ages flows at Report, so a report
// before later flows arrive may call a flow pending and a later report,
// the capture having gone on, a failure; Report leaves the Auditor as it
// was. Without hosts the flows pass through the inference copies, which
// must keep Open.
func TestPendingStreamed(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)), req("ssh-out", catalog.Out, catalog.TCP, port(22)))
	for _, hosts := range [][]netip.Addr{{netip.MustParseAddr(gw4)}, nil} {
		a, err := NewAuditor(Options{Products: []*catalog.Product{p}, Hosts: hosts})
		if err != nil {
			t.Fatal(err)
		}
		syn := fl(tcp, gw4+":40000", "203.0.113.25:25", flow.Unanswered, open, func(f *flow.Flow) { f.Start, f.End = t0, t0 })
		a.Add(&syn)
		syn = flow.Flow{} // the caller reuses its flow
		for range 2 {
			r := findReq(t, a.Report(capture.Stats{End: t0.Add(500 * time.Millisecond)}), "smtp-out")
			if r.Status != Inconclusive || r.Counts.Pending != 1 || !strings.Contains(r.Note, "capture at least 1 s longer") {
				t.Errorf("hosts %v: status %s counts %+v note %q; want inconclusive, 1 pending, the hint", hosts, r.Status, r.Counts, r.Note)
			}
		}
		ssh := fl(tcp, gw4+":40001", "203.0.113.22:22", flow.Established, aged(time.Second, 0))
		a.Add(&ssh)
		rep := a.Report(capture.Stats{End: tEnd})
		if r := findReq(t, rep, "smtp-out"); r.Status != Blocked || r.Counts.Pending != 0 || r.Counts.Unanswered != 1 || r.Note != "" {
			t.Errorf("hosts %v, a minute later: status %s counts %+v note %q; want blocked, 1 unanswered", hosts, r.Status, r.Counts, r.Note)
		}
		if r := findReq(t, rep, "ssh-out"); r.Status != OK || r.Counts.Flows != 1 {
			t.Errorf("hosts %v: ssh-out %s %+v; want ok, 1 flow (placed once)", hosts, r.Status, r.Counts)
		}
		if rep.Summary.Flows != 2 {
			t.Errorf("hosts %v: summary counts %d flows, want 2", hosts, rep.Summary.Flows)
		}
	}
}

// TestPendingUnexpected: a pending flow no requirement allows is listed
// as unexpected with the outcome "pending", not as a failure.
func TestPendingUnexpected(t *testing.T) {
	flows := []flow.Flow{fl(udp, gw4+":5000", "203.0.113.60:5060", flow.Unanswered, aged(500*time.Millisecond, 0), open)}
	rep, err := Audit(&capture.Result{Flows: flows, Stats: capture.Stats{End: tEnd}},
		Options{Products: []*catalog.Product{pendingProduct()}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unexpected) != 1 {
		t.Fatalf("unexpected %+v, want one group", rep.Unexpected)
	}
	u := rep.Unexpected[0]
	if !slices.Equal(u.Outcomes, []string{OutcomePending}) || u.Counts.Pending != 1 || u.Counts.Attempts != 0 || len(u.Reasons) != 0 {
		t.Errorf("outcomes %q counts %+v reasons %+v; want only pending", u.Outcomes, u.Counts, u.Reasons)
	}
	if !hasWarning(rep, "1 flow(s) were still waiting") {
		t.Errorf("no pending warning in %q", rep.Warnings)
	}
}
