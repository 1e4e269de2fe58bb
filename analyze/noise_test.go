package analyze

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// inbound is one inbound TCP attempt from src (an address) to the
// gateway's port, made as:
//   - "session": a real session (handshake, data both ways);
//   - "refused": the gateway answered the SYN with an RST;
//   - "dropped": no answer;
//   - "open": a SYN scan of an open port (SYN-ACK, then the scanner's RST:
//     established by outcome, but no handshake completed);
//   - "spoofed": a SYN-ACK nobody acknowledged (backscatter).
func inbound(src string, p uint16, how string, mods ...func(*flow.Flow)) flow.Flow {
	ap := netip.AddrPortFrom(netip.MustParseAddr(src), 40000).String()
	var f flow.Flow
	switch how {
	case "session":
		f = fl(tcp, ap, gw4+":"+strconv.Itoa(int(p)), flow.Established)
		f.OrigBytes, f.RespBytes, f.History = 120, 800, "ShADadFf"
	case "refused":
		f = fl(tcp, ap, gw4+":"+strconv.Itoa(int(p)), flow.Rejected)
	case "dropped":
		f = fl(tcp, ap, gw4+":"+strconv.Itoa(int(p)), flow.Unanswered)
	case "open":
		f = fl(tcp, ap, gw4+":"+strconv.Itoa(int(p)), flow.Established)
		f.History = "ShR"
	case "spoofed":
		f = fl(tcp, ap, gw4+":"+strconv.Itoa(int(p)), flow.Unanswered)
		f.RespPkts, f.History = 2, "Sh"
	default:
		panic(how)
	}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func mailcleaner(t *testing.T) *catalog.Product {
	t.Helper()
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// auditBoth audits flows in one call and streamed (Add, then Report),
// checks the two reports agree and that every flow was placed once, and
// returns the report.
func auditBoth(t *testing.T, flows []flow.Flow, opts Options) *Report {
	t.Helper()
	if opts.Hosts == nil && opts.Site == nil {
		opts.Hosts = []netip.Addr{netip.MustParseAddr(gw4)}
	}
	return auditStreams(t, flows, opts)
}

// auditStreams is auditBoth without default gateway addresses: without
// any, they are inferred (streaming keeps compact copies of the flows).
func auditStreams(t *testing.T, flows []flow.Flow, opts Options) *Report {
	t.Helper()
	stats := capture.Stats{Backend: "file", End: tEnd}
	rep, err := Audit(&capture.Result{Flows: flows, Stats: stats}, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuditor(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range flows {
		a.Add(&flows[i])
	}
	want, _ := json.Marshal(rep)
	got, _ := json.Marshal(a.Report(stats))
	if !bytes.Equal(want, got) {
		t.Fatalf("streamed report differs:\n%s\n%s", got, want)
	}
	if s := rep.Summary; s.Flows != len(flows) || s.Flows != s.Housekeeping+s.Transit+s.Matched+s.UnexpectedFlows+s.Noise {
		t.Fatalf("flows not placed exactly once: %+v", s)
	}
	return rep
}

func unexpectedPorts(rep *Report) []string {
	var out []string
	for _, u := range rep.Unexpected {
		out = append(out, fmt.Sprintf("%s %s/%d %d", u.Direction, u.Protocol, u.Port, u.Counts.Flows))
	}
	return out
}

// TestNoiseSpoofedSMTP is row 8 of issue 10: ten real SMTP sessions and
// three SYNs from spoofed sources, which the gateway answers with SYN-ACKs
// nobody acknowledges. in-tcp-25-smtp stays ok; the three are backscatter.
func TestNoiseSpoofedSMTP(t *testing.T) {
	var flows []flow.Flow
	for i := range 10 {
		flows = append(flows, inbound(fmt.Sprintf("203.0.113.%d", 1+i), 25, "session", at(i)))
		if i%4 == 0 {
			flows = append(flows, inbound(fmt.Sprintf("198.51.100.%d", 201+i), 25, "spoofed", at(i)))
		}
	}
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{mailcleaner(t)}})
	r := findReq(t, rep, "mailcleaner/in-tcp-25-smtp")
	if r.Status != OK || r.Counts != (Counts{Flows: 10, Attempts: 10, Established: 10}) || len(r.Peers) != 10 || r.NoiseFlows != 3 {
		t.Errorf("in-tcp-25-smtp %s %+v, %d peers, %d noise flows; want ok, 10 established from 10 peers, 3 noise", r.Status, r.Counts, len(r.Peers), r.NoiseFlows)
	}
	want := Noise{Flows: 3, Backscatter: NoiseKind{Sources: 3, Flows: 3}, Ports: []NoisePort{{"tcp", 25, 3}}}
	if got, _ := json.Marshal(rep.Noise); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("noise %s, want %s", got, must(json.Marshal(want)))
	}
	if n := rep.Findings([]Status{Partial, Blocked}); n != 0 {
		t.Errorf("%d findings, want none (warnings %q)", n, rep.Warnings)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestNoiseClosedPort: twenty mail servers retrying a closed port 25 are
// no scanners (one port each): in-tcp-25-smtp is blocked.
func TestNoiseClosedPort(t *testing.T) {
	var flows []flow.Flow
	for i := range 20 {
		for try := range 3 {
			flows = append(flows, inbound(fmt.Sprintf("203.0.113.%d", 1+i), 25, "refused", at(try*60+i)))
		}
	}
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{mailcleaner(t)}})
	r := findReq(t, rep, "mailcleaner/in-tcp-25-smtp")
	if r.Status != Blocked || r.Reason != ReasonRefusedByGateway || r.Counts.Attempts != 60 || len(r.Peers) != 20 {
		t.Errorf("in-tcp-25-smtp %s %s %+v %d peers; want blocked, refused-by-gateway, 60 attempts from 20 peers", r.Status, r.Reason, r.Counts, len(r.Peers))
	}
	if rep.Noise != nil || rep.Summary.Noise != 0 {
		t.Errorf("noise %+v, want none", rep.Noise)
	}
}

// scanProduct requires inbound SSH and SMTP from anyone.
func scanProduct() *catalog.Product {
	return product("p", req("ssh-in", catalog.In, catalog.TCP, port(22)), req("smtp-in", catalog.In, catalog.TCP, port(25)))
}

// scan is a scanner trying ports, some open, some refused, some dropped.
func scan(src string, ports ...uint16) []flow.Flow {
	hows := []string{"refused", "open", "dropped"}
	var out []flow.Flow
	for i, p := range ports {
		out = append(out, inbound(src, p, hows[i%len(hows)], at(i)))
	}
	return out
}

// TestNoiseScanner: a source trying five ports without a handshake is a
// scanner, all its flows are noise (its open-port probe of SSH too); a
// source trying two ports is judged; a scanning source in a site zone,
// or named by an IP peer, is judged.
func TestNoiseScanner(t *testing.T) {
	flows := scan("198.51.100.66", 22, 23, 80, 443, 3389)
	flows = append(flows, inbound("203.0.113.9", 3389, "refused"), inbound("203.0.113.9", 23, "refused"))
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{scanProduct()}})
	if st := findReq(t, rep, "ssh-in").Status; st != NeverSeen {
		t.Errorf("ssh-in %s, want never-seen (only the scanner probed it)", st)
	}
	if got := fmt.Sprint(unexpectedPorts(rep)); got != "[in tcp/23 1 in tcp/3389 1]" {
		t.Errorf("unexpected %s, want only the two-port source's", got)
	}
	if n := rep.Noise; n == nil || n.Scanners != (NoiseKind{Sources: 1, Flows: 5}) || n.Flows != 5 || len(n.Ports) != 5 {
		t.Errorf("noise %+v, want 1 scanner with 5 flows to 5 ports", rep.Noise)
	}
	if hasWarning(rep, "never-seen, but") {
		t.Errorf("warnings %q: scanners do not warn of a broken return route", rep.Warnings)
	}

	site := &catalog.Site{Hosts: []netip.Addr{netip.MustParseAddr(gw4)},
		Zones: map[string][]netip.Prefix{"office": {netip.MustParsePrefix("198.51.100.0/24")}}}
	ipPeer := scanProduct()
	ipPeer.Requirements = append(ipPeer.Requirements, req("mon", catalog.In, catalog.TCP, port(9100),
		catalog.Peer{Kind: catalog.PeerIP, Value: "198.51.100.66"}))
	for name, opts := range map[string]Options{
		"zone":    {Products: []*catalog.Product{scanProduct()}, Site: site},
		"ip peer": {Products: []*catalog.Product{ipPeer}},
	} {
		t.Run(name, func(t *testing.T) {
			rep := auditBoth(t, scan("198.51.100.66", 22, 23, 80, 443, 3389), opts)
			if r := findReq(t, rep, "ssh-in"); r.Status != Blocked || r.Reason != ReasonRefusedByGateway {
				t.Errorf("ssh-in %s %s, want blocked, refused by the gateway", r.Status, r.Reason)
			}
			if got := fmt.Sprint(unexpectedPorts(rep)); got != "[in tcp/23 1 in tcp/80 1 in tcp/443 1 in tcp/3389 1]" {
				t.Errorf("unexpected %s, want every port the zone source tried", got)
			}
			if rep.Noise != nil {
				t.Errorf("noise %+v, want none", rep.Noise)
			}
		})
	}
}

// TestNoiseHandshake: a source that completes a handshake is judged for
// what it tried before; the scanner test starts again after it, so three
// more ports make it a scanner.
func TestNoiseHandshake(t *testing.T) {
	src := "198.51.100.66"
	flows := []flow.Flow{
		inbound(src, 23, "refused", at(1)), inbound(src, 80, "dropped", at(2)),
		inbound(src, 25, "session", at(3)),
		inbound(src, 8080, "refused", at(4)), inbound(src, 8081, "refused", at(5)), inbound(src, 8082, "open", at(6)),
	}
	rep := auditBoth(t, flows, Options{Products: []*catalog.Product{scanProduct()}})
	if got := fmt.Sprint(unexpectedPorts(rep)); got != "[in tcp/23 1 in tcp/80 1]" {
		t.Errorf("unexpected %s, want the two ports tried before the handshake", got)
	}
	if st := findReq(t, rep, "smtp-in").Status; st != OK {
		t.Errorf("smtp-in %s, want ok", st)
	}
	if n := rep.Noise; n == nil || n.Scanners != (NoiseKind{Sources: 1, Flows: 3}) {
		t.Errorf("noise %+v, want the three ports after the handshake", rep.Noise)
	}
	// Inferring the gateway's address, streaming keeps compact copies of
	// the flows: they must still show the handshake.
	inferred := auditStreams(t, flows, Options{Products: []*catalog.Product{scanProduct()}})
	if got := fmt.Sprint(unexpectedPorts(inferred)); got != "[in tcp/23 1 in tcp/80 1]" || !inferred.Hosts.Inferred {
		t.Errorf("inferred hosts %+v: unexpected %s, want the same as given", inferred.Hosts, got)
	}
}

// TestNoiseOverflow: with room for two sources, a third undecided source
// makes the oldest be judged at once; with the table full of scanners,
// new sources are judged at once. Either way the report says so.
func TestNoiseOverflow(t *testing.T) {
	opts := Options{Products: []*catalog.Product{scanProduct()}, NoiseSources: 2}
	flows := []flow.Flow{
		inbound("203.0.113.1", 3389, "refused"), inbound("203.0.113.2", 3389, "refused"), inbound("203.0.113.3", 3389, "refused"),
	}
	rep := auditBoth(t, flows, opts)
	if rep.Noise == nil || rep.Noise.Overflow != 1 || rep.Noise.Flows != 0 || !hasWarning(rep, "source table was full: 1 inbound flow(s)") {
		t.Errorf("noise %+v warnings %q; want 1 overflow flow and a warning", rep.Noise, rep.Warnings)
	}
	if got := fmt.Sprint(unexpectedPorts(rep)); got != "[in tcp/3389 3]" {
		t.Errorf("unexpected %s, want all three judged", got)
	}

	flows = append(scan("198.51.100.1", 1, 2, 3), scan("198.51.100.2", 1, 2, 3)...)
	flows = append(flows, scan("198.51.100.3", 1, 2, 3)...)
	rep = auditBoth(t, flows, opts)
	if n := rep.Noise; n == nil || n.Scanners != (NoiseKind{Sources: 2, Flows: 6}) || n.Overflow != 3 {
		t.Errorf("noise %+v, want 2 scanners set aside and the third source's 3 flows judged", rep.Noise)
	}
	if got := fmt.Sprint(unexpectedPorts(rep)); got != "[in tcp/1 1 in tcp/2 1 in tcp/3 1]" {
		t.Errorf("unexpected %s, want the third scanner's flows", got)
	}

	// One source retrying one port more often than the table holds flows
	// is judged as it goes: nothing is lost, nothing becomes noise.
	flows = nil
	for i := range 10 {
		flows = append(flows, inbound("203.0.113.1", 25, "refused", at(i)))
	}
	rep = auditBoth(t, flows, opts)
	if r := findReq(t, rep, "smtp-in"); r.Status != Blocked || r.Counts.Attempts != 10 {
		t.Errorf("smtp-in %s %+v, want blocked with 10 attempts", r.Status, r.Counts)
	}
}

// TestNoiseAwaiting: flows cut off by the end of the capture count in the
// scanner test: a scanner's last SYNs are noise, not pending, and a
// source whose third port is such a SYN is a scanner, what it held
// included. Report leaves the auditor as it was.
func TestNoiseAwaiting(t *testing.T) {
	open := func(f *flow.Flow) { f.Open, f.Start, f.End = true, tEnd.Add(-100e6), tEnd.Add(-100e6) }
	flows := append(scan("198.51.100.66", 22, 23, 80), inbound("198.51.100.66", 443, "dropped", open))
	flows = append(flows, inbound("198.51.100.77", 23, "refused"), inbound("198.51.100.77", 80, "refused"),
		inbound("198.51.100.77", 8080, "dropped", open))
	flows = append(flows, inbound("203.0.113.5", 25, "dropped", open)) // a client: pending
	opts := Options{Products: []*catalog.Product{scanProduct()}}
	rep := auditBoth(t, flows, opts)
	if n := rep.Noise; n == nil || n.Scanners != (NoiseKind{Sources: 2, Flows: 7}) {
		t.Errorf("noise %+v, want 2 scanners with 7 flows", rep.Noise)
	}
	if len(rep.Unexpected) != 0 || findReq(t, rep, "smtp-in").Counts.Pending != 1 || !hasWarning(rep, "1 flow(s) were still waiting") {
		t.Errorf("unexpected %v, smtp-in %+v, warnings %q; want nothing unexpected and the client's SYN pending",
			unexpectedPorts(rep), findReq(t, rep, "smtp-in").Counts, rep.Warnings)
	}

	// Reports in between change nothing: a report after more flows is the
	// report of all of them.
	a, err := NewAuditor(Options{Products: opts.Products, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
	if err != nil {
		t.Fatal(err)
	}
	stats := capture.Stats{Backend: "file", End: tEnd}
	for i := range flows {
		a.Add(&flows[i])
		a.Report(stats)
	}
	want, _ := json.Marshal(rep)
	if got, _ := json.Marshal(a.Report(stats)); !bytes.Equal(got, want) {
		t.Errorf("report after reports in between differs:\n%s\n%s", got, want)
	}
}
