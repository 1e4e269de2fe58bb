package session

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/flow/flowtest"
)

// roundTrip marshals in to JSON and unmarshals it into a new T.
func roundTrip[T any](t *testing.T, in *T) *T {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWireCarriesEveryField: a flow, stats and a context whose every field
// is set (by reflection: a field added to flow.Flow, capture.Stats or
// Context is set too) come back whole through the wire structs and JSON.
func TestWireCarriesEveryField(t *testing.T) {
	want := flowtest.Filled(2)
	var w wireFlow
	flowToWire(&want, &w)
	var got flow.Flow
	var sc flowScratch
	roundTrip(t, &w).toFlow(&got, &sc)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flow:\n got %+v\nwant %+v", got, want)
	}

	var st capture.Stats
	flowtest.Fill(&st, 3)
	ws := statsToWire(&st)
	if back := roundTrip(t, &ws).toStats(); !reflect.DeepEqual(back, st) {
		t.Errorf("stats:\n got %+v\nwant %+v", back, st)
	}

	var c Context
	flowtest.Fill(&c, 4)
	if back := roundTrip(t, contextToWire(&c)).toContext(); !reflect.DeepEqual(back, &c) {
		t.Errorf("context:\n got %+v\nwant %+v", back, &c)
	}

	var h Header
	flowtest.Fill(&h, 5)
	path := filepath.Join(t.TempDir(), "s.json")
	// A whole file: every header field, and hosts of each origin a
	// capture records.
	for _, hosts := range hostsCases() {
		h.Context.Catalogs[0].SHA256 = SHA256([]byte(h.Context.Catalogs[0].Content))
		h.Context.Catalogs[1].SHA256 = SHA256([]byte(h.Context.Catalogs[1].Content))
		f := want
		f.Outcome, f.State, f.Orig = flow.Unreachable, flow.StateS0, netip.MustParseAddrPort("[2001:db8::1]:40000")
		f.ICMP.Version, f.ICMP.Reason = 6, flow.ICMPTypeCode(f.ICMP.Type, f.ICMP.Code)
		f.End = f.Start.Add(time.Second)
		s := &Session{Version: Version, Header: h, Trailer: Trailer{End: h.Start.Add(time.Hour), Hosts: hosts, Stats: st},
			Flows: []flow.Flow{f}}
		if err := Save(path, s); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("session with hosts %+v:\n got %+v\nwant %+v", hosts, back, s)
		}
	}
}

// hostsCases are the gateway-address decisions a capture records.
func hostsCases() []capture.HostsDecision {
	a := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	return []capture.HostsDecision{
		{},
		{Addrs: a, Origin: capture.OriginFlag},
		{Addrs: a, Origin: capture.OriginSite, SiteFile: "site.yaml"},
		{Addrs: a, Origin: capture.OriginInterface, Iface: "eth0"},
		{Addrs: a, Origin: capture.OriginInferred, Inference: &capture.HostsInference{Chosen: []capture.HostCount{
			{Addr: a[0], Flows: 19, FamilyFlows: 19}, {Addr: a[1], Flows: 7, FamilyFlows: 7}}}},
		{Addrs: a[:1], Origin: capture.OriginInferred, Inference: &capture.HostsInference{Guess: true, Chosen: []capture.HostCount{
			{Addr: a[0], Flows: 2, FamilyFlows: 5}}}},
		{Origin: capture.OriginInferred, Inference: &capture.HostsInference{}},
		{Addrs: a, Origin: capture.OriginRecorded, Note: "by hand"},
	}
}

// TestLegacyHosts: version 1's sentences become the typed origins, with
// the counts of an inference; words it did not write are kept as a note.
func TestLegacyHosts(t *testing.T) {
	a := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8:a::10")}
	tests := []struct {
		how      string
		inferred bool
		want     capture.HostsDecision
	}{
		{"--host", false, capture.HostsDecision{Addrs: a, Origin: capture.OriginFlag}},
		{"site file /etc/flowaudit/site.yaml", false, capture.HostsDecision{Addrs: a, Origin: capture.OriginSite, SiteFile: "/etc/flowaudit/site.yaml"}},
		{"interface eth0 addresses", false, capture.HostsDecision{Addrs: a, Origin: capture.OriginInterface, Iface: "eth0"}},
		{"inferred from the traffic (the address taking part in most flows): 192.0.2.10 in 19 of 19 IPv4 flows; 2001:db8:a::10 in 7 of 7 IPv6 flows", true,
			capture.HostsDecision{Addrs: a, Origin: capture.OriginInferred, Inference: &capture.HostsInference{Chosen: []capture.HostCount{
				{Addr: a[0], Flows: 19, FamilyFlows: 19}, {Addr: a[1], Flows: 7, FamilyFlows: 7}}}}},
		{"inferred from the traffic (the address taking part in most flows): 192.0.2.10 in 2 of 5 IPv4 flows (a guess: no address takes part in half of its family's flows)", true,
			capture.HostsDecision{Addrs: a, Origin: capture.OriginInferred, Inference: &capture.HostsInference{Guess: true, Chosen: []capture.HostCount{
				{Addr: a[0], Flows: 2, FamilyFlows: 5}}}}},
		{"inferred from the traffic: no candidate address", true,
			capture.HostsDecision{Addrs: a, Origin: capture.OriginInferred, Inference: &capture.HostsInference{}}},
		{"inferred from the traffic (x): garbled; words", false,
			capture.HostsDecision{Addrs: a, Origin: capture.OriginInferred, Note: "garbled, words"}},
		{"chosen by the admin", true, capture.HostsDecision{Addrs: a, Origin: capture.OriginInferred, Note: "chosen by the admin"}},
		{"chosen by the admin", false, capture.HostsDecision{Addrs: a, Origin: capture.OriginRecorded, Note: "chosen by the admin"}},
		{"", false, capture.HostsDecision{Addrs: a, Origin: capture.OriginRecorded}},
	}
	for _, tc := range tests {
		if got := legacyHosts(a, tc.how, tc.inferred); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q (inferred %v):\n got %+v\nwant %+v", tc.how, tc.inferred, got, tc.want)
		}
	}
	if got := legacyHosts(nil, "", false); got.Origin != capture.OriginNone || got.Addrs != nil {
		t.Errorf("nothing recorded: %+v", got)
	}
}
