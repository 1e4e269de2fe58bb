package main

import (
	"bytes"
	"context"
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
	"github.com/flowaudit/flowaudit/capture/session"
)

var (
	gw1Addr = netip.MustParseAddr("192.0.2.10")
	gw2Addr = netip.MustParseAddr("192.0.2.11")
)

// gatewayFlows are n outbound SMTP flows from gw to distinct peers.
func gatewayFlows(gw netip.Addr, n int, at time.Time) []flow.Flow {
	out := make([]flow.Flow, n)
	for i := range out {
		out[i] = mkFlowFrom(gw, flow.ProtoTCP, 25, flow.Established, at.Add(time.Duration(i)*time.Second))
		out[i].Resp = netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(5 + i)}), 25)
	}
	return out
}

// TestReportHostsPerSession: sessions that recorded no gateway address
// (older replays, hand-made files) each get theirs inferred from their
// own flows, so both nodes of a cluster are audited; before, one
// inference over the merged flows kept one node and called the other's
// flows transit.
func TestReportHostsPerSession(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	given := []netip.Addr{gw1Addr}
	tests := []struct {
		name         string
		hosts1       []netip.Addr // recorded by gw1's session (nil: none)
		hosts2       []netip.Addr // by gw2's
		single       bool         // gw1's session alone
		args         []string
		addrs        string
		transit      int
		inferred     bool
		how          []string // substrings of hosts.how
		warn, noWarn string
	}{
		{name: "neither session has hosts", addrs: "192.0.2.10,192.0.2.11", inferred: true,
			how: []string{"sessions: gw1 192.0.2.10 (inferred from its own flows: 192.0.2.10 in 3 of 3 IPv4 flows)",
				"; gw2 192.0.2.11 (inferred from its own flows: 192.0.2.11 in 3 of 3 IPv4 flows)"},
			warn: "gateway addresses of gw2 were inferred from its own flows (192.0.2.11): give --host or a site file to be sure", noWarn: "transit"},
		{name: "one given, one without", hosts1: given, addrs: "192.0.2.10,192.0.2.11", inferred: true,
			how:  []string{"sessions: gw1 192.0.2.10 (--host); gw2 192.0.2.11 (inferred from its own flows: "},
			warn: "gateway addresses of gw2 were inferred", noWarn: "of gw1 were inferred"},
		{name: "both given", hosts1: given, hosts2: []netip.Addr{gw2Addr}, addrs: "192.0.2.10,192.0.2.11",
			how: []string{"sessions: gw1 192.0.2.10 (--host); gw2 192.0.2.11 (--host)"}, noWarn: "inferred"},
		{name: "--host overrides the sessions", hosts2: []netip.Addr{gw2Addr}, args: []string{"--host", "192.0.2.10"},
			addrs: "192.0.2.10", transit: 3, how: []string{"given with --host"}, warn: "3 flow(s) had no gateway address"},
		{name: "one session without hosts", single: true, addrs: "192.0.2.10", inferred: true,
			how: []string{"inferred from the traffic"}, warn: "gateway addresses were inferred from the traffic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"-p", "mailcleaner"}, tc.args...)
			args = append(args, writeSessionAt(t, filepath.Join(dir, "gw1.json"), "gw1", t0, tc.hosts1, capture.OriginFlag, gatewayFlows(gw1Addr, 3, t0)...))
			if !tc.single {
				args = append(args, writeSessionAt(t, filepath.Join(dir, "gw2.json"), "gw2", t0, tc.hosts2, capture.OriginFlag, gatewayFlows(gw2Addr, 3, t0)...))
			}
			rep := runReport(t, args...)
			if got := strings.Join(rep.Hosts.Addrs, ","); got != tc.addrs || rep.Summary.Transit != tc.transit || rep.Hosts.Inferred != tc.inferred {
				t.Errorf("hosts %s transit %d inferred %v, want %s %d %v (how %q)", got, rep.Summary.Transit, rep.Hosts.Inferred,
					tc.addrs, tc.transit, tc.inferred, rep.Hosts.How)
			}
			for _, h := range tc.how {
				if !strings.Contains(rep.Hosts.How, h) {
					t.Errorf("hosts.how %q, want %q in it", rep.Hosts.How, h)
				}
			}
			warnings := strings.Join(rep.Warnings, "\n")
			if tc.warn != "" && !strings.Contains(warnings, tc.warn) {
				t.Errorf("warnings %q, want %q", rep.Warnings, tc.warn)
			}
			if tc.noWarn != "" && strings.Contains(warnings, tc.noWarn) {
				t.Errorf("warnings %q, want none with %q", rep.Warnings, tc.noWarn)
			}
			if smtp := rep.req("mailcleaner/out-tcp-25-smtp"); !tc.single && tc.transit == 0 && smtp.Counts.Flows != 6 {
				t.Errorf("out-tcp-25-smtp counts %d flows, want both nodes' 6", smtp.Counts.Flows)
			}
		})
	}
}

// TestReportTwoGatewaysFromCapture is the QA reproduction: the example
// capture replayed as gw1, and a copy with the gateway's addresses
// rewritten as gw2, both saved without hosts; the merged report audits
// both gateways and every flow.
func TestReportTwoGatewaysFromCapture(t *testing.T) {
	pcap := filepath.Join("..", "..", "testdata", "example", "gateway.pcap")
	dir := t.TempDir()
	c1, c2 := filepath.Join(dir, "c1.json"), filepath.Join(dir, "c2.json")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"replay", "-p", "mailcleaner", "--node", "gw1", "--session", c1,
		"--fail-on", "none", "-o", filepath.Join(dir, "replay.json"), pcap}, &stdout, &stderr); err != nil {
		t.Fatalf("replay: %v %s", err, stderr.String())
	}
	// A copy as replay saved it; c1 is rewritten below.
	if data, err := os.ReadFile(c1); err != nil || os.WriteFile(filepath.Join(dir, "c1-recorded.json"), data, 0o644) != nil {
		t.Fatalf("copy %s: %v", c1, err)
	}
	s, err := session.Load(c1)
	if err != nil {
		t.Fatal(err)
	}
	// replay recorded the addresses it inferred, and that it inferred them.
	if len(s.Hosts.Addrs) != 2 || s.Hosts.Origin != capture.OriginInferred || len(s.Hosts.Inference.Chosen) != 2 {
		t.Fatalf("replay's session: hosts %+v, want 2 inferred", s.Hosts)
	}
	rename := map[netip.Addr]netip.Addr{gw1Addr: gw2Addr,
		netip.MustParseAddr("2001:db8:a::10"): netip.MustParseAddr("2001:db8:a::11")}
	gw2 := *s
	gw2.Node = "gw2"
	gw2.Flows = slices.Clone(s.Flows)
	gw2.Hosts = capture.HostsDecision{Origin: capture.OriginInferred, Inference: &capture.HostsInference{}}
	for _, a := range s.Hosts.Addrs {
		gw2.Hosts.Addrs = append(gw2.Hosts.Addrs, rename[a])
	}
	for _, c := range s.Hosts.Inference.Chosen {
		c.Addr = rename[c.Addr]
		gw2.Hosts.Inference.Chosen = append(gw2.Hosts.Inference.Chosen, c)
	}
	for i := range gw2.Flows {
		f := &gw2.Flows[i]
		if a, ok := rename[f.Orig.Addr()]; ok {
			f.Orig = netip.AddrPortFrom(a, f.Orig.Port())
		}
		if a, ok := rename[f.Resp.Addr()]; ok {
			f.Resp = netip.AddrPortFrom(a, f.Resp.Port())
		}
	}
	recorded := filepath.Join(dir, "c2-recorded.json")
	if err := session.Save(recorded, &gw2); err != nil {
		t.Fatal(err)
	}
	// As older replays saved them: no hosts.
	for _, x := range []struct {
		s    *session.Session
		path string
	}{{s, c1}, {&gw2, c2}} {
		x.s.Hosts = capture.HostsDecision{}
		if err := session.Save(x.path, x.s); err != nil {
			t.Fatal(err)
		}
	}
	one := runReport(t, "-p", "mailcleaner", c1)
	both := runReport(t, "-p", "mailcleaner", c1, c2)
	withHosts := runReport(t, "-p", "mailcleaner", filepath.Join(dir, "c1-recorded.json"), recorded)
	if !withHosts.Hosts.Inferred || withHosts.Summary.Transit != 0 || len(withHosts.Hosts.Addrs) != 4 ||
		!strings.Contains(strings.Join(withHosts.Warnings, "\n"), "gateway addresses of gw2 were inferred from its own flows (192.0.2.11, 2001:db8:a::11)") ||
		withHosts.Hosts.How != both.Hosts.How {
		t.Errorf("sessions with the hosts replay inferred: hosts %+v transit %d warnings %q; want those inferred per session: %+v",
			withHosts.Hosts, withHosts.Summary.Transit, withHosts.Warnings, both.Hosts)
	}
	if want := []string{"192.0.2.10", "192.0.2.11", "2001:db8:a::10", "2001:db8:a::11"}; !reflect.DeepEqual(both.Hosts.Addrs, want) {
		t.Errorf("hosts %v, want %v (%s)", both.Hosts.Addrs, want, both.Hosts.How)
	}
	if both.Summary.Transit != 0 || both.Summary.Matched != 2*one.Summary.Matched || one.Summary.Matched == 0 {
		t.Errorf("merged: transit %d matched %d, want 0 and twice gw1's %d", both.Summary.Transit, both.Summary.Matched, one.Summary.Matched)
	}
	for _, w := range both.Warnings {
		if strings.Contains(w, "no gateway address on either side") {
			t.Errorf("warning %q", w)
		}
	}
	for i, r := range one.Requirements {
		b := both.Requirements[i]
		if b.Status != r.Status || b.Counts.Flows != 2*r.Counts.Flows {
			t.Errorf("%s: merged %s with %d flows, gw1 alone %s with %d", r.ID, b.Status, b.Counts.Flows, r.Status, r.Counts.Flows)
		}
		if r.Counts.Flows > 0 && strings.Join(b.Nodes, ",") != "gw1,gw2" {
			t.Errorf("%s seen by %v, want gw1,gw2", r.ID, b.Nodes)
		}
	}
}

// TestReportRefusesSessions: a value report cannot use, or one capture
// given twice, is one line naming the file(s) and the problem; before,
// an unknown outcome was audited as never seen and a file given twice
// doubled every count.
func TestReportRefusesSessions(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	good := writeSessionAt(t, "gw1.json", "gw1", t0, []netip.Addr{gwAddr}, capture.OriginFlag, mkFlow(flow.ProtoTCP, 25, flow.Unreachable, t0))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name, old, new string) string {
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("%s: no %q in the session", name, old)
		}
		if err := os.WriteFile(name, bytes.ReplaceAll(data, []byte(old), []byte(new)), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	pcap := filepath.Join(dir, "x.pcap") // a pcap header
	if err := os.WriteFile(pcap, []byte("\xd4\xc3\xb2\xa1\x02\x00\x04\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	copied := variant("copy.json", `"tool_version": "test"`, `"tool_version": "copied"`)
	later := writeSessionAt(t, "later.json", "gw1", t0.Add(time.Hour), []netip.Addr{gwAddr}, capture.OriginFlag, mkFlow(flow.ProtoTCP, 25, flow.Unreachable, t0.Add(time.Hour)))
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"unknown outcome", []string{variant("o.json", `"outcome":"unreachable"`, `"outcome":"bogus"`)},
			`session o.json: flows[0].outcome: unknown outcome "bogus" (want established, rejected, unreachable, unanswered, unknown or not-sent)`},
		{"unknown conn_state", []string{variant("c.json", `"conn_state":"S0"`, `"conn_state":"S9"`)}, `session c.json: flows[0].conn_state: unknown conn_state "S9"`},
		{"bad protocol", []string{variant("p.json", `"proto":6`, `"proto":"tcp"`)}, `session p.json: flows[0].proto: want a whole number from 0 to 255, got string "tcp"`},
		{"bad orig", []string{variant("a.json", `"orig":"192.0.2.10:40000"`, `"orig":"192.0.2.10"`)}, `session a.json: flows[0].orig: "192.0.2.10" is not an ip:port`},
		{"bad host", []string{variant("h.json", `"192.0.2.10"`+"\n", `"192.0.2.10", "nope"`+"\n")}, `session h.json: hosts.addrs[1]: "nope" is not an IP address`},
		{"version type", []string{variant("v.json", `"version": 2`, `"version": "2"`)}, `session v.json: version: want a whole number, got string "2"`},
		{"a capture, not a session", []string{pcap}, "session " + pcap + ": not a flowaudit session file (not JSON)"},
		{"same file twice", []string{good, good}, "session gw1.json is given twice: each flow would count twice"},
		{"same file, two names", []string{good, filepath.Join(dir, good)}, "sessions gw1.json and " + filepath.Join(dir, good) + " are the same file"},
		{"same capture twice", []string{good, copied}, `sessions gw1.json and copy.json are the same capture (node "gw1", start 2026-11-22T10:00:00Z)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"report", "-p", "mailcleaner"}, tc.files...), &stdout, &stderr)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line starting %q", err, tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("a report was written: %.100s", stdout.String())
			}
		})
	}
	// One node captured twice (different starts) is two captures.
	rep := runReport(t, "-p", "mailcleaner", good, later)
	if smtp := rep.req("mailcleaner/out-tcp-25-smtp"); smtp.Counts.Flows != 2 || strings.Join(smtp.Nodes, ",") != "gw1" {
		t.Errorf("out-tcp-25-smtp %+v, want 2 flows from gw1", smtp)
	}
}

// TestReportSameNodeOverlap: two runs of one node whose spans overlap
// both recorded a flow; it counts once.
func TestReportSameNodeOverlap(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	shared := mkFlow(flow.ProtoTCP, 25, flow.Established, t0.Add(40*time.Second))
	r1 := writeSessionAt(t, filepath.Join(dir, "r1.json"), "gw1", t0, []netip.Addr{gwAddr}, capture.OriginFlag,
		mkFlow(flow.ProtoTCP, 25, flow.Established, t0), shared)
	r2 := writeSessionAt(t, filepath.Join(dir, "r2.json"), "gw1", t0.Add(30*time.Second), []netip.Addr{gwAddr}, capture.OriginFlag,
		shared, mkFlow(flow.ProtoTCP, 25, flow.Unreachable, t0.Add(50*time.Second)))
	rep := runReport(t, "-p", "mailcleaner", r1, r2)
	smtp := rep.req("mailcleaner/out-tcp-25-smtp")
	if smtp.Counts.Flows != 3 || rep.Summary.Flows != 3 || rep.Capture.Flows != 3 || smtp.Status != "partial" {
		t.Errorf("smtp %+v, summary flows %d, capture flows %d: want 3 flows (the shared one once), partial",
			smtp, rep.Summary.Flows, rep.Capture.Flows)
	}
	if w := strings.Join(rep.Warnings, "\n") + strings.Join(rep.Capture.Warnings, "\n"); !strings.Contains(w, "gw1: 1 flow(s) recorded by two sessions of this node") {
		t.Errorf("warnings %q", w)
	}
}

// TestReportHelpHost: report's --host help says where the addresses
// come from without it, not replay's "inferred from the traffic".
func TestReportHelpHost(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"report", "--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(stdout.String()) {
		if strings.Contains(l, "--host") {
			line = l
		}
	}
	for _, want := range []string{"overrides the site file and the sessions", "the union of the sessions' recorded hosts",
		"inferred per session from its own flows for a session that recorded none"} {
		if !strings.Contains(line, want) {
			t.Errorf("--host help %q, want %q", line, want)
		}
	}
	if strings.Contains(line, "else inferred from the traffic") {
		t.Errorf("--host help %q still gives replay's default", line)
	}
}
