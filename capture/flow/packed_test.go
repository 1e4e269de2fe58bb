package flow_test

import (
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/flow/flowtest"
)

// TestPackCarriesEveryField packs a flow whose every field is set (found
// by reflection: a field added to Flow, ICMPError, Process or LocalDrop is
// set too) and checks that unpacking gives it back whole, with both kinds
// of table.
func TestPackCarriesEveryField(t *testing.T) {
	for _, tc := range []struct {
		name string
		tab  *flow.PackTable
	}{{"interning", flow.NewPackTable()}, {"transient", flow.NewTransientPackTable()}} {
		t.Run(tc.name, func(t *testing.T) {
			want := flowtest.Filled(1)
			if z := flowtest.Zeroes(&want); len(z) > 0 {
				t.Fatalf("Filled left %v zero", z)
			}
			in := want.Clone()
			p := tc.tab.Pack(in)
			*in = flow.Flow{} // the packed copy holds nothing of in
			var got flow.Flow
			tc.tab.Unpack(&p, &got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("unpacked\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestPackValues packs flows with the values the inline fields code
// specially, and those they cannot hold, which go to the side record.
func TestPackValues(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 123, time.UTC)
	base := flow.Flow{UID: "CabcdefghijklmnopQ", Proto: flow.ProtoTCP,
		Orig:  netip.MustParseAddrPort("192.0.2.10:40000"),
		Resp:  netip.MustParseAddrPort("203.0.113.5:25"),
		Start: t0, End: t0.Add(time.Second), State: flow.StateSF, Outcome: flow.Established, Attempts: 1}
	tests := []struct {
		name string
		set  func(*flow.Flow)
	}{
		{"plain", func(*flow.Flow) {}},
		{"zero flow", func(f *flow.Flow) { *f = flow.Flow{} }},
		{"open only", func(f *flow.Flow) { f.Open = true }},
		{"evicted only", func(f *flow.Flow) { f.Evicted = true }},
		{"every state and outcome", nil}, // see below
		{"state outside Zeek's", func(f *flow.Flow) { f.State = "S9" }},
		{"outcome outside the five", func(f *flow.Flow) { f.Outcome = "bogus" }},
		{"empty state and outcome", func(f *flow.Flow) { f.State, f.Outcome = "", "" }},
		{"v4-mapped v6", func(f *flow.Flow) {
			f.Orig = netip.MustParseAddrPort("[::ffff:192.0.2.10]:1")
			f.Resp = netip.MustParseAddrPort("[::ffff:203.0.113.5]:2")
		}},
		{"zones", func(f *flow.Flow) {
			f.Orig = netip.MustParseAddrPort("[fe80::1%eth0]:546")
			f.Resp = netip.MustParseAddrPort("[fe80::2%eth1]:547")
		}},
		{"invalid addresses", func(f *flow.Flow) { f.Orig, f.Resp = netip.AddrPort{}, netip.AddrPort{} }},
		{"far times", func(f *flow.Flow) {
			f.Start = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)
			f.End = time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC)
		}},
		{"one far time", func(f *flow.Flow) { f.End = time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC) }},
		{"zero start", func(f *flow.Flow) { f.Start = time.Time{} }},
		{"negative attempts", func(f *flow.Flow) { f.Attempts = -1 }},
		{"huge attempts", func(f *flow.Flow) { f.Attempts = math.MaxUint32 + 1 }},
		{"most attempts inline", func(f *flow.Flow) { f.Attempts = math.MaxUint32 }},
		{"names only server", func(f *flow.Flow) { f.ServerName = "mx.example.com" }},
		{"names only one side", func(f *flow.Flow) { f.RespNames = []string{"mx.example.com"} }},
		{"unnamed ICMP error", func(f *flow.Flow) {
			f.ICMP = &flow.ICMPError{Type: 3, Code: 13, Version: 4, From: netip.MustParseAddr("198.51.100.1"),
				Time: t0, Reason: flow.ICMPTypeCode(3, 13)}
		}},
	}
	for _, tab := range []*flow.PackTable{flow.NewPackTable(), flow.NewTransientPackTable()} {
		for _, tc := range tests {
			var flows []flow.Flow
			if tc.set == nil {
				for i, st := range flow.ConnStates {
					f := base
					f.State, f.Outcome = st, flow.Outcomes[i%len(flow.Outcomes)]
					flows = append(flows, f)
				}
			} else {
				f := base
				tc.set(&f)
				flows = append(flows, f)
			}
			for _, want := range flows {
				p := tab.Pack(&want)
				var got flow.Flow
				tab.Unpack(&p, &got)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: unpacked\n%+v\nwant\n%+v", tc.name, got, want)
				}
			}
		}
	}
}

// TestPackTableFull: past 65,535 distinct nodes or histories, a string
// is kept with its flow rather than lost.
func TestPackTableFull(t *testing.T) {
	tab := flow.NewPackTable()
	var packed []flow.Packed
	const n = 1<<16 + 10
	for i := range n {
		f := flow.Flow{Node: "gw" + strconv.Itoa(i), History: "S" + strconv.Itoa(i)}
		packed = append(packed, tab.Pack(&f))
	}
	for i := range packed {
		var f flow.Flow
		tab.Unpack(&packed[i], &f)
		if f.Node != "gw"+strconv.Itoa(i) || f.History != "S"+strconv.Itoa(i) {
			t.Fatalf("flow %d: node %q history %q", i, f.Node, f.History)
		}
	}
}

// TestPackEmptyNames: an empty name list comes back nil (JSON tells
// neither apart: both are left out).
func TestPackEmptyNames(t *testing.T) {
	f := flow.Flow{OrigNames: []string{}, RespNames: []string{}, ServerName: "x.example"}
	tab := flow.NewPackTable()
	p := tab.Pack(&f)
	var g flow.Flow
	tab.Unpack(&p, &g)
	if g.OrigNames != nil || g.RespNames != nil || g.ServerName != "x.example" {
		t.Errorf("names %#v %#v %q", g.OrigNames, g.RespNames, g.ServerName)
	}
}

// TestPackSharesNames: flows with the same names share one copy in an
// interning table, and get their own in a transient one.
func TestPackSharesNames(t *testing.T) {
	a := flow.Flow{OrigNames: []string{"a.example"}, RespNames: []string{"b.example", "c.example"}}
	b := flow.Flow{OrigNames: []string{"a.example"}, RespNames: []string{"b.example", "c.example"}}
	c := flow.Flow{OrigNames: []string{"a.example", "b.example"}, RespNames: []string{"c.example"}}
	tab := flow.NewPackTable()
	pa, pb, pc := tab.Pack(&a), tab.Pack(&b), tab.Pack(&c)
	var fa, fb, fc flow.Flow
	tab.Unpack(&pa, &fa)
	tab.Unpack(&pb, &fb)
	tab.Unpack(&pc, &fc)
	if &fa.RespNames[0] != &fb.RespNames[0] {
		t.Error("equal name lists are not shared")
	}
	if !reflect.DeepEqual(fc.OrigNames, c.OrigNames) || !reflect.DeepEqual(fc.RespNames, c.RespNames) {
		t.Errorf("names moved between sides: %v %v", fc.OrigNames, fc.RespNames)
	}
	tr := flow.NewTransientPackTable()
	pa, pb = tr.Pack(&a), tr.Pack(&b)
	tr.Unpack(&pa, &fa)
	tr.Unpack(&pb, &fb)
	if &fa.RespNames[0] == &fb.RespNames[0] {
		t.Error("a transient table shares name lists")
	}
}

// TestPackAllocs: packing a flow of known node, history and names, and
// unpacking any flow, allocate nothing (the UID chunk aside, one per
// 3,640 flows).
func TestPackAllocs(t *testing.T) {
	f := flow.Flow{UID: "CabcdefghijklmnopQ", Proto: flow.ProtoTCP,
		Orig:  netip.MustParseAddrPort("192.0.2.10:40000"),
		Resp:  netip.MustParseAddrPort("203.0.113.5:25"),
		Start: time.Unix(1_800_000_000, 0).UTC(), End: time.Unix(1_800_000_001, 0).UTC(),
		State: flow.StateSF, History: "ShADadFf", Outcome: flow.Established, Attempts: 1, Node: "gw1",
		RespNames: []string{"mx.example.com"}}
	tab := flow.NewPackTable()
	p := tab.Pack(&f)
	if n := testing.AllocsPerRun(1000, func() { p = tab.Pack(&f) }); n > 0.01 {
		t.Errorf("Pack: %.2f allocations per flow", n)
	}
	var g flow.Flow
	if n := testing.AllocsPerRun(1000, func() { tab.Unpack(&p, &g) }); n != 0 {
		t.Errorf("Unpack: %.2f allocations per flow", n)
	}
	if s := reflect.TypeFor[flow.Packed]().Size(); s > 128 {
		t.Errorf("Packed is %d bytes, want at most 128 (docs/report.md counts on it)", s)
	}
}

func BenchmarkPack(b *testing.B) {
	f := flowtest.Filled(1)
	f.ICMP, f.Process, f.LocalDrop, f.MissedBytes = nil, nil, nil, 0
	f.State, f.Outcome, f.Node, f.History = flow.StateSF, flow.Established, "gw1", "ShADadFf"
	tab := flow.NewPackTable()
	b.ReportAllocs()
	var g flow.Flow
	for b.Loop() {
		p := tab.Pack(&f)
		tab.Unpack(&p, &g)
	}
}
