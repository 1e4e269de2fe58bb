package analyze

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const gw4 = "192.0.2.10"

// fl builds a flow "proto orig -> resp" with an outcome; mods adjust it.
func fl(proto uint8, orig, resp string, out flow.Outcome, mods ...func(*flow.Flow)) flow.Flow {
	f := flow.Flow{Proto: proto, Orig: netip.MustParseAddrPort(orig), Resp: netip.MustParseAddrPort(resp),
		Start: t0, End: t0.Add(time.Second), Outcome: out, OrigPkts: 1}
	if out == flow.Established || out == flow.Rejected {
		f.RespPkts = 1
	}
	for _, m := range mods {
		m(&f)
	}
	return f
}

func icmpErr(reason string, from string) func(*flow.Flow) {
	return func(f *flow.Flow) {
		f.ICMP = &flow.ICMPError{Type: 3, Version: 4, From: netip.MustParseAddr(from), Reason: reason}
	}
}

func at(sec int) func(*flow.Flow) {
	return func(f *flow.Flow) {
		f.Start = t0.Add(time.Duration(sec) * time.Second)
		f.End = f.Start.Add(time.Second)
	}
}

func respNames(n ...string) func(*flow.Flow) { return func(f *flow.Flow) { f.RespNames = n } }
func node(n string) func(*flow.Flow)         { return func(f *flow.Flow) { f.Node = n } }

func req(id string, dir catalog.Direction, proto catalog.Protocol, ports []catalog.PortRange, peers ...catalog.Peer) catalog.Requirement {
	if len(peers) == 0 {
		peers = []catalog.Peer{{Kind: catalog.PeerAny}}
	}
	return catalog.Requirement{ID: id, Direction: dir, Protocol: proto, Ports: ports, Peers: peers,
		Service: id, Source: catalog.Source{Document: "test.txt", Text: "row " + id}}
}

func port(p uint16) []catalog.PortRange { return []catalog.PortRange{{p, p}} }

func product(name string, reqs ...catalog.Requirement) *catalog.Product {
	return &catalog.Product{Name: name, Requirements: reqs}
}

func audit(t *testing.T, flows []flow.Flow, opts Options) *Report {
	t.Helper()
	if opts.Hosts == nil && opts.Site == nil {
		opts.Hosts = []netip.Addr{netip.MustParseAddr(gw4)}
	}
	rep, err := Audit(&capture.Result{Flows: flows, Stats: capture.Stats{Backend: "file"}}, opts)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return rep
}

func findReq(t *testing.T, rep *Report, id string) *Requirement {
	t.Helper()
	for i := range rep.Requirements {
		if rep.Requirements[i].ID == id {
			return &rep.Requirements[i]
		}
	}
	t.Fatalf("requirement %s not in report", id)
	return nil
}

var captureResult = capture.Result{}
