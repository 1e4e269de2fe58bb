package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/session"
)

var gwAddr = netip.MustParseAddr("192.0.2.10")

// mkFlow is an outbound flow from the gateway.
func mkFlow(proto uint8, port uint16, out flow.Outcome, at time.Time) flow.Flow {
	return mkFlowFrom(gwAddr, proto, port, out, at)
}

// mkFlowFrom is an outbound flow from gateway address gw.
func mkFlowFrom(gw netip.Addr, proto uint8, port uint16, out flow.Outcome, at time.Time) flow.Flow {
	f := flow.Flow{UID: "C" + string(out), Proto: proto,
		Orig:  netip.AddrPortFrom(gw, 40000),
		Resp:  netip.AddrPortFrom(netip.MustParseAddr("203.0.113.5"), port),
		Start: at, End: at.Add(time.Second), Outcome: out, OrigPkts: 1, Attempts: 1}
	switch out {
	case flow.Established:
		f.RespPkts, f.State = 1, flow.StateSF
	case flow.Unreachable:
		f.State = flow.StateS0
		f.ICMP = &flow.ICMPError{Type: 3, Code: 13, Version: 4, From: netip.MustParseAddr("192.0.2.1"), Time: at, Reason: "admin-prohibited"}
	}
	return f
}

func writeSession(t *testing.T, dir, node string, flows ...flow.Flow) string {
	t.Helper()
	return writeSessionAt(t, filepath.Join(dir, node+".session.json"), node, time.Time{}, []netip.Addr{gwAddr}, capture.OriginInterface, flows...)
}

// writeSessionAt saves a session of node at path, started at start (zero:
// 10:00), recording hosts (nil: none, as replay without --host used to).
func writeSessionAt(t *testing.T, path, node string, start time.Time, hosts []netip.Addr, origin capture.HostsOrigin, flows ...flow.Flow) string {
	t.Helper()
	if start.IsZero() {
		start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	}
	s := &session.Session{Header: session.Header{ToolVersion: "test", Node: node, Iface: "gw0", Backend: "afpacket", Start: start},
		Trailer: session.Trailer{End: start.Add(time.Minute), Stats: capture.Stats{Backend: "afpacket", Iface: "gw0",
			Packets: uint64(2 * len(flows)), Flows: uint64(len(flows))}},
		Flows: flows}
	if len(hosts) > 0 {
		s.Hosts = capture.HostsDecision{Addrs: hosts, Origin: origin}
		if origin == capture.OriginInterface {
			s.Hosts.Iface = "gw0"
		}
	}
	if err := session.Save(path, s); err != nil {
		t.Fatal(err)
	}
	return path
}

type reqView struct {
	ID     string   `json:"id"`
	Status string   `json:"status"`
	Reason string   `json:"reason"`
	Nodes  []string `json:"nodes"`
	Counts struct {
		Flows int `json:"flows"`
	} `json:"counts"`
}

type reportView struct {
	Hosts struct {
		Addrs    []string `json:"addrs"`
		How      string   `json:"how"`
		Inferred bool     `json:"inferred"`
	} `json:"hosts"`
	Requirements []reqView `json:"requirements"`
	Capture      struct {
		Nodes    []string `json:"nodes"`
		Flows    int      `json:"flows"`
		Packets  int      `json:"packets"`
		Warnings []string `json:"warnings"`
	} `json:"capture"`
	Summary struct {
		Flows   int `json:"flows"`
		Matched int `json:"matched"`
		Transit int `json:"transit"`
	} `json:"summary"`
	Warnings []string `json:"warnings"`
}

// runReport runs report with args (JSON to a file) and returns the
// report; findings are not an error here.
func runReport(t *testing.T, args ...string) *reportView {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"report", "--fail-on", "none", "-f", "json", "-o", out}, args...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("report %v: %v; stderr %s", args, err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep reportView
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func (r *reportView) req(id string) reqView {
	for _, q := range r.Requirements {
		if q.ID == id {
			return q
		}
	}
	return reqView{}
}

// TestReportMergesSessions merges two gateways' sessions: the SMTP
// requirement worked on one and was blocked on the other (partial, both
// nodes named); DNS was seen on gw2 only.
func TestReportMergesSessions(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s1 := writeSession(t, dir, "gw1", mkFlow(flow.ProtoTCP, 25, flow.Established, t0))
	s2 := writeSession(t, dir, "gw2", mkFlow(flow.ProtoTCP, 25, flow.Unreachable, t0.Add(time.Second)),
		mkFlow(flow.ProtoUDP, 53, flow.Established, t0.Add(2*time.Second)))
	out := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"report", "-p", "mailcleaner", "-f", "json", "-o", out, s1, s2}, &stdout, &stderr)
	var fe *findingsError
	if !asFindings(err, &fe) {
		t.Fatalf("want findings (never-seen requirements), got %v; stderr %s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep reportView
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	smtp := rep.req("mailcleaner/out-tcp-25-smtp")
	if smtp.Status != "partial" || smtp.Reason != "admin-prohibited" || strings.Join(smtp.Nodes, ",") != "gw1,gw2" {
		t.Errorf("out-tcp-25-smtp = %+v, want partial, admin-prohibited, nodes gw1,gw2", smtp)
	}
	dns := rep.req("mailcleaner/out-udp-53-dns")
	if dns.Status != "ok" || strings.Join(dns.Nodes, ",") != "gw2" {
		t.Errorf("out-udp-53-dns = %+v, want ok seen by gw2", dns)
	}
	if strings.Join(rep.Capture.Nodes, ",") != "gw1,gw2" {
		t.Errorf("capture nodes %v", rep.Capture.Nodes)
	}
	if len(rep.Hosts.Addrs) != 1 || rep.Hosts.Addrs[0] != "192.0.2.10" ||
		rep.Hosts.How != "sessions: gw1 192.0.2.10 (interface gw0 addresses); gw2 192.0.2.10 (interface gw0 addresses)" {
		t.Errorf("hosts %+v, want the sessions' address", rep.Hosts)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeSession(t, dir, "gw1")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"format":"flowaudit-session","version":9}`), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no session", []string{"report", "-p", "mailcleaner"}, "no session file given"},
		{"no product", []string{"report", good}, "no product given"},
		{"newer version", []string{"report", "-p", "mailcleaner", bad}, "session " + bad + ": unsupported session version 9"},
		{"missing", []string{"report", "-p", "mailcleaner", filepath.Join(dir, "nope.json")}, "no such file"},
		{"bad format", []string{"report", "-p", "mailcleaner", "-f", "nope", good}, `unknown report format "nope"`},
		{"output is a session", []string{"report", "-p", "mailcleaner", "-o", good, good}, "--output " + good + " is also an input"},
		{"output directory missing", []string{"report", "-p", "mailcleaner", "-o", filepath.Join(dir, "no", "r.html"), good}, "directory " + filepath.Join(dir, "no")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestReplaySessionThenReport: a session saved by replay rebuilds the
// same report offline.
func TestReplaySessionThenReport(t *testing.T) {
	pcap := filepath.Join("..", "..", "testdata", "lab", "captures", "mailcleaner.pcap")
	if _, err := os.Stat(pcap); err != nil {
		t.Skipf("lab capture missing: %v", err)
	}
	dir := t.TempDir()
	sess := filepath.Join(dir, "m.session.json")
	r1, r2 := filepath.Join(dir, "replay.json"), filepath.Join(dir, "report.json")
	common := []string{"-p", "mailcleaner", "--host", "192.0.2.10", "--host", "2001:db8:a::10", "--fail-on", "none"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"replay", "--session", sess, "--node", "lab", "-o", r1, pcap}, common...), &stdout, &stderr); err != nil {
		t.Fatalf("replay: %v %s", err, stderr.String())
	}
	s, err := session.Load(sess)
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != "lab" || s.Backend != "file" || len(s.Flows) == 0 || s.Hosts.Origin != capture.OriginFlag || len(s.Hosts.Addrs) != 2 {
		t.Errorf("session: node %q backend %q %d flows hosts %+v", s.Node, s.Backend, len(s.Flows), s.Hosts)
	}
	// report takes the hosts from the session.
	if err := run(context.Background(), []string{"report", "-p", "mailcleaner", "--fail-on", "none", "-o", r2, sess}, &stdout, &stderr); err != nil {
		t.Fatalf("report: %v %s", err, stderr.String())
	}
	var a, b struct {
		Requirements []struct{ ID, Status, Reason string } `json:"requirements"`
		Unexpected   []struct {
			Port uint16 `json:"port"`
		} `json:"unexpected"`
	}
	for p, v := range map[string]any{r1: &a, r2: &b} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.Requirements) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("report from the session differs from replay's:\n%+v\n%+v", a, b)
	}
}
