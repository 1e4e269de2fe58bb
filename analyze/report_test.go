package analyze

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

func TestJSONDeterministic(t *testing.T) {
	p := product("p",
		req("smtp-out", catalog.Out, catalog.TCP, port(25)),
		req("dns", catalog.Out, catalog.UDP, port(53)))
	var flows []flow.Flow
	for i := range 50 {
		out := []flow.Outcome{flow.Established, flow.Unanswered, flow.Rejected}[i%3]
		flows = append(flows,
			fl(tcp, gw4+":40000", "203.0.113."+strconv.Itoa(i%7)+":25", out, at(i), node("n"+strconv.Itoa(i%3)), respNames("h"+strconv.Itoa(i%4)+".example")),
			fl(udp, gw4+":40000", "203.0.113."+strconv.Itoa(i%5)+":"+strconv.Itoa(1000+i%6), out, at(i)))
	}
	var first []byte
	for round := range 5 {
		rand.Shuffle(len(flows), func(i, j int) { flows[i], flows[j] = flows[j], flows[i] })
		rep := audit(t, flows, Options{Products: []*catalog.Product{p}})
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("round %d: JSON differs with flow order", round)
		}
	}
	for _, key := range []string{`"schema":"flowaudit.report/v1"`, `"requirements":[`, `"unexpected":[`, `"ports":[[25,25]]`, `"capture":{`, `"hosts":{`, `"summary":{`} {
		if !strings.Contains(string(first), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestLossWarning(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	res := &capture.Result{Stats: capture.Stats{KernelDrops: 12, Evicted: 3}}
	rep, err := Audit(res, Options{Products: []*catalog.Product{p}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Capture.LossSeen || !hasWarning(rep, "12 packets dropped by the kernel, 3 flows evicted from a full table): traffic may have gone unseen, so never-seen verdicts may be wrong") {
		t.Errorf("loss %v warnings %v", rep.Capture.LossSeen, rep.Warnings)
	}
	rep, _ = Audit(&capture.Result{}, Options{Products: []*catalog.Product{p}})
	if rep.Capture.LossSeen || hasWarning(rep, "loss") {
		t.Errorf("loss reported without signals: %v", rep.Warnings)
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range append(Statuses, Unexpected) {
		if got, ok := ParseStatus(string(s)); !ok || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, ok)
		}
	}
	if _, ok := ParseStatus("green"); ok {
		t.Error("ParseStatus accepted green")
	}
}

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		s    Summary
		want string
	}{
		{Summary{Requirements: 38, OK: 21, Blocked: 4, NeverSeen: 11, NotApplicable: 2, Unexpected: 3}, "38 requirements: 21 ok, 4 blocked, 11 never seen, 2 not applicable; 3 unexpected"},
		{Summary{Requirements: 1, Partial: 1}, "1 requirement: 1 partial; 0 unexpected"},
		{Summary{}, "0 requirements; 0 unexpected"},
	}
	for _, tc := range tests {
		if got := tc.s.Line(); got != tc.want {
			t.Errorf("Line() = %q, want %q", got, tc.want)
		}
	}
}

// TestAuditorStreaming: flows added one at a time through a reused Flow
// (as capture.Options.OnFlow passes them) give the same report as Audit,
// with hosts given and inferred; a report taken early is a snapshot that
// later flows do not change.
func TestAuditorStreaming(t *testing.T) {
	p := product("p",
		req("smtp-out", catalog.Out, catalog.TCP, port(25)),
		req("dns", catalog.Out, catalog.UDP, port(53)))
	var flows []flow.Flow
	for i := range 40 {
		out := []flow.Outcome{flow.Established, flow.Unanswered, flow.Rejected}[i%3]
		flows = append(flows,
			fl(tcp, gw4+":40000", "203.0.113."+strconv.Itoa(i%7)+":25", out, at(i), node("n"+strconv.Itoa(i%2)), respNames("mx"+strconv.Itoa(i%3)+".example")),
			fl(udp, gw4+":40000", "203.0.113."+strconv.Itoa(i%5)+":"+strconv.Itoa(50+i%6), out, at(i)))
		flows[len(flows)-1].Process = &flow.Process{PID: uint32(i), Comm: "dig"}
	}
	stats := capture.Stats{Backend: "file", Packets: 99}
	for _, hosts := range [][]netip.Addr{{netip.MustParseAddr(gw4)}, nil} {
		opts := Options{Products: []*catalog.Product{p}, Hosts: hosts}
		want, err := Audit(&capture.Result{Flows: flows, Stats: stats}, opts)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAuditor(opts)
		if err != nil {
			t.Fatal(err)
		}
		var scratch flow.Flow
		var proc flow.Process
		var early []byte
		for i := range flows {
			scratch = flows[i]
			scratch.RespNames = append([]string(nil), flows[i].RespNames...)
			if flows[i].Process != nil {
				proc = *flows[i].Process
				scratch.Process = &proc
			}
			a.Add(&scratch)
			proc = flow.Process{PID: 1, Comm: "reused"}
			scratch.Resp = netip.MustParseAddrPort("198.51.100.1:1") // reused by the caller
			for j := range scratch.RespNames {
				scratch.RespNames[j] = "reused.invalid"
			}
			if i == 10 {
				early, _ = json.Marshal(a.Report(stats))
			}
		}
		got := a.Report(stats)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if !bytes.Equal(gb, wb) {
			t.Errorf("hosts %v: streamed report differs from Audit's", hosts)
		}
		var snap Report
		if err := json.Unmarshal(early, &snap); err != nil || snap.Summary.Flows != 11 {
			t.Errorf("early report: %v, %d flows", err, snap.Summary.Flows)
		}
		if got.Capture.Packets != 99 || !slices.Equal(got.Capture.Nodes, []string{"n0", "n1"}) {
			t.Errorf("capture %+v", got.Capture)
		}
	}
	if _, err := NewAuditor(Options{}); err == nil {
		t.Error("NewAuditor without products accepted")
	}
}
