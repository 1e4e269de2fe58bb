package render

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// fixture is a report to render, built the way flowaudit builds it.
type fixture struct {
	name string
	rep  *analyze.Report
}

// goldenFixtures are the reports behind the golden files: the bundled
// example capture audited against mailcleaner as `flowaudit replay` does,
// a synthetic audit that reaches what the lab captures do not (partial,
// loss, several products and nodes, zones, processes, text needing
// escapes), and merged sessions with a gap and thousands of flows.
// Each is frozen as testdata/NAME.report.json, rebuilt with -update, so
// the golden files change when the renderers change, not whenever a lab
// capture is recorded again.
func goldenFixtures(t *testing.T) []fixture {
	t.Helper()
	build := map[string]func(*testing.T) *analyze.Report{
		"gateway":   func(t *testing.T) *analyze.Report { return auditCapture(t, exampleCapture) },
		"synthetic": syntheticReport,
		"merged":    mergedReport,
		"localdrop": localDropReport,
	}
	var out []fixture
	for _, name := range []string{"gateway", "synthetic", "merged", "localdrop"} {
		path := filepath.Join("testdata", name+".report.json")
		if *update {
			rep := build[name](t)
			b, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./analyze/render -update creates it)", err)
		}
		var rep analyze.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, fixture{name: name, rep: &rep})
	}
	return out
}

var exampleCapture = filepath.Join("..", "..", "testdata", "example", "gateway.pcap")

// liveFixtures audits the bundled example and every lab capture now, for
// the structural tests, plus the synthetic and merged reports.
func liveFixtures(t *testing.T) []fixture {
	t.Helper()
	captures := []string{exampleCapture}
	lab, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "lab", "captures", "*.pcap"))
	var out []fixture
	for _, path := range append(captures, lab...) {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		out = append(out, fixture{name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), rep: auditCapture(t, path)})
	}
	if len(out) == 0 {
		t.Fatal("no capture found (testdata/example/gateway.pcap is committed)")
	}
	return append(out, fixture{name: "synthetic", rep: syntheticReport(t)}, fixture{name: "merged", rep: mergedReport(t)},
		fixture{name: "localdrop", rep: localDropReport(t)})
}

// auditCapture audits a capture against its product (the file's name; the
// example is a mailcleaner gateway) with inferred hosts, as `flowaudit
// replay --product P FILE` does.
func auditCapture(t *testing.T, path string) *analyze.Report {
	t.Helper()
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	product := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if product == "gateway" {
		product = "mailcleaner"
	}
	if tr, err := labtest.LoadTruth(labtest.TruthPath(path)); err == nil && tr.Product != "" {
		product = tr.Product // a lab capture not named after its product (maintenance-before.pcap)
	}
	p, err := cat.Product(product)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	res, err := pcapfile.ReadFiles(context.Background(), []string{path}, capture.Options{})
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	// The path as a user in the repository root gives it.
	for i, f := range res.Stats.Files {
		res.Stats.Files[i] = filepath.ToSlash(strings.TrimPrefix(f, filepath.Join("..", "..")+string(filepath.Separator)))
	}
	rep, err := analyze.Audit(res, analyze.Options{Products: []*catalog.Product{p}})
	if err != nil {
		t.Fatalf("audit %s: %v", path, err)
	}
	rep.Tool = "flowaudit test"
	return rep
}

// syntheticCatalog is a small product whose texts need escaping in every
// format: HTML specials, Markdown pipes and backticks.
const syntheticCatalog = `product: acme
title: Acme <Mail> & "Filter"
document: acme-ports.txt
features:
  - name: cluster
    default: false
    description: cluster peers
rows:
  - name: smtp
    direction: out
    protocol: tcp
    ports: [25, 587]
    peers: [any]
    service: SMTP | submission
    purpose: deliver mail
    source:
      text: "TCP/25 & TCP/587 <outbound> to ANY | relay ` + "`smarthost`" + `"
  - name: ntp
    direction: out
    protocol: udp
    ports: [123]
    peers: [any]
    service: NTP
    purpose: time
    source:
      text: "UDP/123 to your NTP servers"
  - name: support
    direction: in
    protocol: tcp
    ports: [22]
    peers: [zone:vendor-support]
    service: SSH
    purpose: vendor support
    source:
      text: "TCP/22 from the Acme support network <script>alert(1)</script>"
  - name: ping
    direction: out
    protocol: icmp
    peers: [any]
    service: ICMP echo
    purpose: diagnostics
    source:
      text: "ICMP should be allowed"
  - name: cluster-db
    direction: in
    protocol: tcp
    ports: [3306-3307]
    peers: [zone:cluster-peers]
    service: MySQL
    purpose: cluster replication
    condition: cluster
    source:
      text: "TCP/3306-3307 between cluster nodes"
`

// betaCatalog is a second product audited with acme: ids keep their
// product prefix when a report covers several.
const betaCatalog = `product: beta
title: Beta antivirus
document: beta.txt
rows:
  - name: updates
    direction: out
    protocol: tcp
    ports: [443]
    peers: [host:*.updates.beta.test]
    service: HTTPS
    purpose: signature updates
    source:
      text: "TCP/443 to *.updates.beta.test"
`

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// syntheticReport audits flows built in code: a partial requirement with
// several reasons and many peers, a blocked one, an ok one, a never-seen
// one, a not-applicable one with evidence, unexpected groups (one whose
// peer is outside the allowed zone), housekeeping, two nodes and loss.
func syntheticReport(t *testing.T) *analyze.Report {
	t.Helper()
	acme, err := catalog.Parse("acme.yaml", []byte(syntheticCatalog))
	if err != nil {
		t.Fatal(err)
	}
	gw := "192.0.2.10"
	var flows []flow.Flow
	add := func(sec float64, proto uint8, orig, resp string, out flow.Outcome, node string, mods ...func(*flow.Flow)) {
		start := t0.Add(time.Duration(sec * float64(time.Second)))
		f := flow.Flow{UID: "C" + strings.ReplaceAll(orig+resp, ":", ""), Proto: proto,
			Orig: netip.MustParseAddrPort(orig), Resp: netip.MustParseAddrPort(resp),
			Start: start, End: start.Add(300 * time.Millisecond), Outcome: out, OrigPkts: 2, Node: node}
		if out == flow.Established || out == flow.Rejected {
			f.RespPkts = 1
		}
		for _, m := range mods {
			m(&f)
		}
		flows = append(flows, f)
	}
	names := func(ns ...string) func(*flow.Flow) { return func(f *flow.Flow) { f.RespNames = ns } }
	proc := func(pid uint32, comm string) func(*flow.Flow) {
		return func(f *flow.Flow) { f.Process = &flow.Process{PID: pid, Comm: comm} }
	}
	icmpErr := func(reason, from string) func(*flow.Flow) {
		return func(f *flow.Flow) {
			f.ICMP = &flow.ICMPError{Type: 3, Code: 13, Version: 4, From: netip.MustParseAddr(from), Reason: reason}
		}
	}
	// SMTP out: partial, over both nodes and five peers.
	add(1, flow.ProtoTCP, gw+":40001", "203.0.113.25:25", flow.Established, "gw1", names("mx1.example.net"))
	add(4, flow.ProtoTCP, gw+":40002", "203.0.113.26:25", flow.Established, "gw2", names("mx2.example.net", "mail.example.net"))
	add(9, flow.ProtoTCP, gw+":40003", "203.0.113.27:587", flow.Unanswered, "gw1", proc(2101, "smtp"))
	add(15, flow.ProtoTCP, gw+":40004", "203.0.113.27:587", flow.Unanswered, "gw1", proc(2107, "smtp"))
	add(22, flow.ProtoTCP, gw+":40005", "203.0.113.28:25", flow.Rejected, "gw2")
	add(30, flow.ProtoTCP, gw+":40006", "203.0.113.29:25", flow.Unreachable, "gw2", icmpErr("admin-prohibited", "198.51.100.1"))
	// NTP: blocked, no reply.
	add(3, flow.ProtoUDP, gw+":123", "198.51.100.123:123", flow.Unanswered, "gw1", names("ntp.example.org"), proc(612, "ntpd"))
	add(33, flow.ProtoUDP, gw+":123", "198.51.100.123:123", flow.Unanswered, "gw1", names("ntp.example.org"), proc(612, "ntpd"))
	// Ping: ok.
	add(5, flow.ProtoICMP, gw+":8", "198.51.100.1:0", flow.Established, "gw1")
	// SSH from the support zone is never seen; SSH from elsewhere is
	// unexpected (peer not allowed).
	add(12, flow.ProtoTCP, "203.0.113.200:51000", gw+":22", flow.Established, "gw1")
	// Cluster DB (feature off) with evidence: not applicable, unexpected.
	add(18, flow.ProtoTCP, "10.0.0.2:41000", gw+":3306", flow.Established, "gw2")
	// Beta updates: ok by name.
	add(7, flow.ProtoTCP, gw+":40200", "203.0.113.80:443", flow.Established, "gw2", names("eu.updates.beta.test"))
	// IRC out: unexpected, established, with a name.
	add(25, flow.ProtoTCP, gw+":40100", "203.0.113.66:6667", flow.Established, "gw1", names("irc.example-chat.test"), proc(4242, "weechat"))
	// IPv6 neighbour discovery: housekeeping.
	add(2, flow.ProtoICMPv6, "[fe80::1]:135", "[ff02::1:ff00:10]:0", flow.Unanswered, "gw1")
	res := &capture.Result{Flows: flows, Stats: capture.Stats{Backend: "file",
		Files: []string{"gw1.pcapng", "gw2.pcapng"}, Start: t0, End: t0.Add(40 * time.Second),
		Packets: 4210, Bytes: 1_234_567, Flows: uint64(len(flows)), KernelDrops: 12, Evicted: 3}}
	site := &catalog.Site{Zones: map[string][]netip.Prefix{"vendor-support": {netip.MustParsePrefix("198.51.100.0/26")}}}
	beta, err := catalog.Parse("beta.yaml", []byte(betaCatalog))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := analyze.Audit(res, analyze.Options{Products: []*catalog.Product{acme, beta}, Site: site,
		Hosts: []netip.Addr{netip.MustParseAddr(gw)}})
	if err != nil {
		t.Fatal(err)
	}
	rep.Tool = "flowaudit test"
	rep.Generated = time.Date(2026, 11, 22, 9, 5, 0, 0, time.UTC)
	return rep
}

// mergedReport audits two sessions of one gateway with two hours between
// them and a second node's session, as `flowaudit report` merges them:
// thousands of SMTP attempts (a density strip, not dots), a few
// unexpected IRC flows by one program and an RDP scan from many peers.
func mergedReport(t *testing.T) *analyze.Report {
	t.Helper()
	acme, err := catalog.Parse("acme.yaml", []byte(syntheticCatalog))
	if err != nil {
		t.Fatal(err)
	}
	gw := netip.MustParseAddr("192.0.2.10")
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	spans := []capture.Span{{Node: "gw1", Start: at(0), End: at(10 * time.Minute)},
		{Node: "gw1", Start: at(2 * time.Hour), End: at(2*time.Hour + 5*time.Minute)},
		{Node: "gw2", Start: at(2 * time.Minute), End: at(12 * time.Minute)}}
	var flows []flow.Flow
	add := func(start time.Time, port uint16, orig, resp netip.Addr, out flow.Outcome, node string, p *flow.Process) {
		f := flow.Flow{UID: fmt.Sprintf("C%d", len(flows)), Proto: flow.ProtoTCP, Orig: netip.AddrPortFrom(orig, 40000+uint16(len(flows)%20000)),
			Resp: netip.AddrPortFrom(resp, port), Start: start, End: start.Add(200 * time.Millisecond), Outcome: out, OrigPkts: 2, Node: node, Process: p}
		if out == flow.Established || out == flow.Rejected {
			f.RespPkts = 1
		}
		flows = append(flows, f)
	}
	mx := netip.MustParseAddr("203.0.113.25")
	for i := range 3000 { // every 200 ms in gw1's first session, one in ten dropped
		out := flow.Established
		if i%10 == 3 || (i > 1200 && i < 1500) {
			out = flow.Unanswered
		}
		add(at(time.Duration(i)*200*time.Millisecond), 25, gw, mx, out, "gw1", &flow.Process{PID: uint32(2100 + i%7), Comm: "smtp"})
	}
	for i := range 500 { // and through the second
		add(at(2*time.Hour+time.Duration(i)*600*time.Millisecond), 25, gw, mx, flow.Established, "gw1", &flow.Process{PID: 3100, Comm: "smtp"})
	}
	irc := netip.MustParseAddr("203.0.113.66")
	weechat := &flow.Process{PID: 4242, Comm: "weechat"}
	add(at(3*time.Minute), 6667, gw, irc, flow.Established, "gw1", weechat)
	add(at(2*time.Hour+time.Minute), 6667, gw, irc, flow.Established, "gw1", weechat)
	add(at(2*time.Hour+time.Minute+30*time.Second), 6667, gw, irc, flow.Rejected, "gw1", weechat)
	for i := range 400 { // an RDP scan seen by gw2
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i%20)})
		add(at(5*time.Minute+time.Duration(i)*time.Second), 3389, src, gw, flow.Rejected, "gw2", nil)
	}
	res := &capture.Result{Flows: flows, Stats: capture.Stats{Backend: "afpacket", Start: at(0), End: at(2*time.Hour + 5*time.Minute),
		Packets: uint64(3 * len(flows)), Flows: uint64(len(flows)), Spans: spans}}
	rep, err := analyze.Audit(res, analyze.Options{Products: []*catalog.Product{acme}, Hosts: []netip.Addr{gw}})
	if err != nil {
		t.Fatal(err)
	}
	rep.Tool = "flowaudit test"
	rep.Generated = at(3 * time.Hour)
	return rep
}

// localDropReport audits a live capture whose drop probe saw the
// gateway's own kernel drop flows (docs/local-drops.md): SMTP partly
// dropped by its own output chain (partial), NTP with no route (blocked,
// never on the wire), support SSH dropped by its input chain, and the
// probe's counts by reason.
func localDropReport(t *testing.T) *analyze.Report {
	t.Helper()
	acme, err := catalog.Parse("acme.yaml", []byte(syntheticCatalog))
	if err != nil {
		t.Fatal(err)
	}
	gw := "192.0.2.10"
	var flows []flow.Flow
	add := func(sec float64, proto uint8, orig, resp string, out flow.Outcome, mods ...func(*flow.Flow)) {
		start := t0.Add(time.Duration(sec * float64(time.Second)))
		f := flow.Flow{UID: "C" + strings.ReplaceAll(orig+resp, ":", ""), Proto: proto,
			Orig: netip.MustParseAddrPort(orig), Resp: netip.MustParseAddrPort(resp),
			Start: start, End: start.Add(2 * time.Second), Outcome: out, OrigPkts: 2, Attempts: 1}
		if out == flow.Established {
			f.RespPkts = 1
		}
		for _, m := range mods {
			m(&f)
		}
		flows = append(flows, f)
	}
	// An attempt the gateway dropped on output: nothing reached the wire.
	notSent := func(reason, rule string, pid uint32, comm string) func(*flow.Flow) {
		return func(f *flow.Flow) {
			f.Attempts, f.State = 2, flow.StateS0
			f.Process = &flow.Process{PID: pid, Comm: comm}
			f.LocalDrop = &flow.LocalDrop{Hook: "output", Reason: reason, Packets: 2, Rule: rule}
		}
	}
	outRule := "table inet fw chain out handle 4 (drop)"
	add(1, flow.ProtoTCP, gw+":40001", "203.0.113.25:25", flow.Established)
	add(6, flow.ProtoTCP, gw+":40002", "203.0.113.25:25", flow.NotSent, notSent("netfilter-drop", outRule, 2101, "smtp"))
	add(9, flow.ProtoTCP, gw+":40003", "203.0.113.26:587", flow.NotSent, notSent("netfilter-drop", outRule, 2107, "smtp"))
	add(3, flow.ProtoUDP, gw+":123", "198.51.100.123:123", flow.NotSent, notSent("ip-outnoroutes", "", 612, "ntpd"))
	add(12, flow.ProtoTCP, "198.51.100.7:51000", gw+":22", flow.Unanswered, func(f *flow.Flow) {
		f.Attempts = 3
		f.LocalDrop = &flow.LocalDrop{Hook: "input", Reason: "netfilter-drop", Packets: 3, Rule: "a rule in the input hook"}
	})
	add(5, flow.ProtoICMP, gw+":8", "198.51.100.1:0", flow.Established)
	res := &capture.Result{Flows: flows, Stats: capture.Stats{Backend: "ebpf", Iface: "eth0", Start: t0, End: t0.Add(40 * time.Second),
		Packets: 31, Bytes: 4_210, Flows: uint64(len(flows)), Attribution: "best effort (cgroup socket hooks)",
		LocalDrops: &capture.LocalDropStats{ByReason: map[string]uint64{"netfilter-drop": 7, "ip-outnoroutes": 2, "not-specified": 4},
			Recorded: 9}}}
	site := &catalog.Site{Zones: map[string][]netip.Prefix{"vendor-support": {netip.MustParsePrefix("198.51.100.0/26")}}}
	rep, err := analyze.Audit(res, analyze.Options{Products: []*catalog.Product{acme}, Site: site,
		Hosts: []netip.Addr{netip.MustParseAddr(gw)}})
	if err != nil {
		t.Fatal(err)
	}
	rep.Tool = "flowaudit test"
	rep.Generated = time.Date(2026, 11, 22, 9, 5, 0, 0, time.UTC)
	return rep
}
