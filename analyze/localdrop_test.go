package analyze

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

const razorRule = "table inet fw chain out handle 4 (drop)"

// notSent is an attempt the gateway dropped on output, as the live
// capture's drop stage makes it: n packets, none on the wire.
func notSent(orig, resp, reason, rule string, n int, proc *flow.Process) flow.Flow {
	return fl(tcp, orig, resp, flow.NotSent, func(f *flow.Flow) {
		f.OrigPkts, f.Attempts, f.State, f.Process = uint64(n), n, flow.StateS0, proc
		f.LocalDrop = &flow.LocalDrop{Hook: "output", Reason: reason, Packets: uint64(n), Rule: rule}
	})
}

// dropped marks a captured flow as dropped by the gateway's kernel.
func dropped(hook, reason, rule string) func(*flow.Flow) {
	return func(f *flow.Flow) {
		f.LocalDrop = &flow.LocalDrop{Hook: hook, Reason: reason, Packets: 2, Rule: rule}
	}
}

func TestLocalDropVerdicts(t *testing.T) {
	razor := req("out-tcp-2703-razor", catalog.Out, catalog.TCP, port(2703))
	ssh := req("in-tcp-22-ssh", catalog.In, catalog.TCP, port(22))
	proc := &flow.Process{PID: 4242, Comm: "razor-check"}
	tests := []struct {
		name     string
		req      catalog.Requirement
		flows    []flow.Flow
		status   Status
		reason   Reason
		text     string
		detail   []string
		attempts int
		notSent  int
		process  string
	}{
		{"output drop only", razor, []flow.Flow{
			notSent(gw4+":40000", "203.0.113.5:2703", "netfilter-drop", razorRule, 2, proc),
			notSent(gw4+":40001", "203.0.113.5:2703", "netfilter-drop", razorRule, 3, proc),
		}, Blocked, ReasonLocalDrop, "dropped by this gateway's firewall (output)", []string{razorRule}, 2, 2, "razor-check"},
		{"output drop, rule not named", razor, []flow.Flow{
			notSent(gw4+":40000", "203.0.113.5:2703", "netfilter-drop", "", 1, nil),
		}, Blocked, ReasonLocalDrop, "dropped by this gateway's firewall (output)", []string{"a rule in the output hook"}, 1, 1, ""},
		{"some went out and were answered", razor, []flow.Flow{
			fl(tcp, gw4+":39999", "203.0.113.5:2703", flow.Established),
			notSent(gw4+":40000", "203.0.113.5:2703", "netfilter-drop", razorRule, 2, proc),
		}, Partial, ReasonLocalDrop, "dropped by this gateway's firewall (output)", []string{razorRule}, 2, 1, "razor-check"},
		{"input drop is local-drop, not unanswered", ssh, []flow.Flow{
			fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Unanswered, dropped("input", "netfilter-drop", "table inet fw chain in handle 7 (drop)")),
		}, Blocked, ReasonLocalDrop, "dropped by this gateway's firewall (input)", []string{"table inet fw chain in handle 7 (drop)"}, 1, 0, ""},
		{"input reject (the gateway's RST) is local-drop", ssh, []flow.Flow{
			fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Rejected, dropped("input", "netfilter-drop", "table ip filter chain INPUT handle 4 (reject)")),
		}, Blocked, ReasonLocalDrop, "dropped by this gateway's firewall (input)", []string{"table ip filter chain INPUT handle 4 (reject)"}, 1, 0, ""},
		{"no route", razor, []flow.Flow{notSent(gw4+":40000", "203.0.113.5:2703", "ip-outnoroutes", "", 1, nil)},
			Blocked, ReasonNoRoute, "no route on this gateway (output)", nil, 1, 1, ""},
		{"neighbour", razor, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:2703", flow.Unanswered, dropped("output", "neigh-failed", ""))},
			Blocked, ReasonNeighFailed, "this gateway could not resolve the next hop (ARP / neighbour discovery) (output)", nil, 1, 0, ""},
		{"queue full is a neighbour failure", razor, []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:2703", flow.Unanswered, dropped("output", "neigh-queuefull", ""))},
			Blocked, ReasonNeighFailed, "this gateway could not resolve the next hop (ARP / neighbour discovery) (output)", nil, 1, 0, ""},
		{"socket filter", ssh, []flow.Flow{fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Unanswered, dropped("input", "socket-filter", ""))},
			Blocked, ReasonSocketFilter, "dropped by a socket filter on this gateway (input)", nil, 1, 0, ""},
		{"other kernel reason invents no verdict", ssh, []flow.Flow{fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Unanswered, dropped("input", "tc-ingress", ""))},
			Blocked, ReasonUnanswered, "unanswered: dropped silently", nil, 1, 0, ""},
		{"a drop on a flow that worked changes nothing", ssh, []flow.Flow{fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Established, dropped("input", "netfilter-drop", ""))},
			OK, "", "", nil, 1, 0, ""},
		{"upstream drop only: no local-drop", ssh, []flow.Flow{fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Unanswered)},
			Blocked, ReasonUnanswered, "unanswered: dropped silently", nil, 1, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := audit(t, tc.flows, Options{Products: []*catalog.Product{product("p", tc.req)}})
			r := findReq(t, rep, tc.req.ID)
			if r.Status != tc.status || r.Reason != tc.reason || r.ReasonText != tc.text {
				t.Fatalf("status %s reason %q %q, want %s %q %q", r.Status, r.Reason, r.ReasonText, tc.status, tc.reason, tc.text)
			}
			if r.Counts.Attempts != tc.attempts || r.Counts.NotSent != tc.notSent {
				t.Errorf("counts %+v, want %d attempts, %d not sent", r.Counts, tc.attempts, tc.notSent)
			}
			if tc.reason != "" && !slices.Equal(r.Reasons[0].Detail, tc.detail) {
				t.Errorf("detail %q, want %q", r.Reasons[0].Detail, tc.detail)
			}
			if tc.process != "" && (len(r.Processes) == 0 || r.Processes[0].Comm != tc.process) {
				t.Errorf("processes %+v, want %s", r.Processes, tc.process)
			}
			if tc.notSent > 0 && !slices.ContainsFunc(r.Timeline, func(a Attempt) bool {
				return a.Outcome == string(flow.NotSent) && a.Reason == tc.reason
			}) {
				t.Errorf("timeline has no not-sent attempt: %+v", r.Timeline)
			}
			if len(rep.Unexpected) != 0 {
				t.Errorf("unexpected %+v", rep.Unexpected)
			}
			for _, w := range rep.Warnings {
				if strings.Contains(w, "pending") {
					t.Errorf("warning %q", w)
				}
			}
		})
	}
}

// An input drop left open at the end of the capture is no pending
// attempt: the kernel dropped it, no answer can come.
func TestLocalDropNotPending(t *testing.T) {
	ssh := req("in-tcp-22-ssh", catalog.In, catalog.TCP, port(22))
	f := fl(tcp, "198.51.100.7:50000", gw4+":22", flow.Unanswered, dropped("input", "netfilter-drop", ""))
	f.Open = true
	st := capture.Stats{Backend: "afpacket", End: f.End}
	rep, err := Audit(&capture.Result{Flows: []flow.Flow{f}, Stats: st},
		Options{Products: []*catalog.Product{product("p", ssh)}, Hosts: hostsOf(gw4)})
	if err != nil {
		t.Fatal(err)
	}
	if r := findReq(t, rep, "in-tcp-22-ssh"); r.Status != Blocked || r.Reason != ReasonLocalDrop || r.Counts.Pending != 0 {
		t.Errorf("status %s reason %s counts %+v", r.Status, r.Reason, r.Counts)
	}
}

func TestLocalReasonNames(t *testing.T) {
	for kernel, want := range map[string]Reason{
		"netfilter-drop": ReasonLocalDrop, "ip-outnoroutes": ReasonNoRoute, "ip-innoroutes": ReasonNoRoute,
		"neigh-createfail": ReasonNeighFailed, "neigh-failed": ReasonNeighFailed, "neigh-queuefull": ReasonNeighFailed,
		"neigh-dead": ReasonNeighFailed, "socket-filter": ReasonSocketFilter,
		"tc-egress": "", "xdp": "", "not-specified": "", "reason-999": "",
	} {
		if got := LocalReason(kernel); got != want {
			t.Errorf("LocalReason(%q) = %q, want %q", kernel, got, want)
		}
		if want != "" && !want.Local() {
			t.Errorf("%s is not Local", want)
		}
	}
	if ReasonUnanswered.Local() || ReasonAdminProhibited.Local() {
		t.Error("wire reasons are Local")
	}
}

// The capture's local drop counts reach the report; a replay with a
// never-seen requirement says once that it cannot see local drops; a
// live capture does not.
func TestLocalDropStatsAndReplayNote(t *testing.T) {
	reqs := []catalog.Requirement{req("a", catalog.Out, catalog.TCP, port(2703)), req("b", catalog.Out, catalog.TCP, port(2704))}
	p := []*catalog.Product{product("p", reqs...)}
	countNote := func(rep *Report) int {
		n := 0
		for _, w := range rep.Warnings {
			if w == replayDropsNote {
				n++
			}
		}
		return n
	}
	rep := audit(t, nil, Options{Products: p})
	if countNote(rep) != 1 || rep.Capture.LocalDrops != nil {
		t.Errorf("replay: warnings %q, local drops %v", rep.Warnings, rep.Capture.LocalDrops)
	}
	seen := []flow.Flow{fl(tcp, gw4+":4", "203.0.113.5:2703", flow.Established), fl(tcp, gw4+":5", "203.0.113.5:2704", flow.Established)}
	if rep := audit(t, seen, Options{Products: p}); countNote(rep) != 0 {
		t.Errorf("replay without never-seen: %q", rep.Warnings)
	}
	st := capture.Stats{Backend: "ebpf", LocalDrops: &capture.LocalDropStats{
		ByReason: map[string]uint64{"netfilter-drop": 5, "not-specified": 2}, MapFull: 1, Truncated: 2}}
	rep, err := Audit(&capture.Result{Stats: st}, Options{Products: p, Hosts: hostsOf(gw4)})
	if err != nil {
		t.Fatal(err)
	}
	if ld := rep.Capture.LocalDrops; countNote(rep) != 0 || ld == nil || ld.ByReason["netfilter-drop"] != 5 ||
		ld.ByReason["not-specified"] != 2 || ld.Lost != 3 {
		t.Errorf("live: warnings %q, capture %+v", rep.Warnings, rep.Capture)
	}
}

func hostsOf(addrs ...string) []netip.Addr {
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}
