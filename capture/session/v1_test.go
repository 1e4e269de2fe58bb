package session

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// The version-1 files in testdata/sessions were written by flowaudit
// before the wire structs (commit aa5bb78): v1-mailcleaner by `replay
// --session ... -p mailcleaner testdata/example/gateway.pcap`, and
// v1-ebpf-handmade by that version's session.Save from the values
// handMadeV1 repeats.
var v1Dir = filepath.Join("..", "..", "testdata", "sessions")

// TestReadV1Replay: a version-1 session loads with exactly the flows and
// stats it held. Version 1 wrote flow.Flow and capture.Stats themselves,
// so decoding the file into those types is what it held.
func TestReadV1Replay(t *testing.T) {
	path := filepath.Join(v1Dir, "v1-mailcleaner.session.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var held struct {
		Stats capture.Stats `json:"stats"`
		Flows []flow.Flow   `json:"flows"`
	}
	if err := json.Unmarshal(data, &held); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Flows) != 30 || !reflect.DeepEqual(s.Flows, held.Flows) {
		t.Errorf("%d flows, not those the file held", len(s.Flows))
		for i := range min(len(s.Flows), len(held.Flows)) {
			if !reflect.DeepEqual(s.Flows[i], held.Flows[i]) {
				t.Fatalf("flow %d:\n got %+v\nwant %+v", i, s.Flows[i], held.Flows[i])
			}
		}
	}
	if !reflect.DeepEqual(s.Stats, held.Stats) {
		t.Errorf("stats:\n got %+v\nwant %+v", s.Stats, held.Stats)
	}
	gw4, gw6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8:a::10")
	want := Info{Version: 1, Header: Header{ToolVersion: "dev", Node: "gateway", Backend: "file",
		Start: time.Date(2026, 11, 22, 12, 58, 29, 843702000, time.UTC)},
		Trailer: Trailer{End: time.Date(2026, 11, 22, 12, 58, 35, 651219000, time.UTC), Stats: held.Stats,
			Hosts: capture.HostsDecision{Addrs: []netip.Addr{gw4, gw6}, Origin: capture.OriginInferred,
				Inference: &capture.HostsInference{Chosen: []capture.HostCount{{Addr: gw4, Flows: 19, FamilyFlows: 19}, {Addr: gw6, Flows: 7, FamilyFlows: 7}}}}}}
	if got := s.Source().Info(); !reflect.DeepEqual(*got, want) {
		t.Errorf("info:\n got %+v\nwant %+v", *got, want)
	}
}

// TestReadV1HandMade: a version-1 session of the eBPF backend, with
// processes, an ICMP error, names and every flag, loads as written.
func TestReadV1HandMade(t *testing.T) {
	s, err := Load(filepath.Join(v1Dir, "v1-ebpf-handmade.session.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := handMadeV1()
	if !reflect.DeepEqual(s, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", s, want)
		for i := range min(len(s.Flows), len(want.Flows)) {
			if !reflect.DeepEqual(s.Flows[i], want.Flows[i]) {
				t.Errorf("flow %d:\n got %+v\nwant %+v", i, s.Flows[i], want.Flows[i])
			}
		}
	}
}

// handMadeV1 is what v1-ebpf-handmade.session.json was written from.
func handMadeV1() *Session {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	return &Session{
		Version: 1,
		Header:  Header{ToolVersion: "v0.9.0", Node: "gw1", Iface: "eth0", Backend: "ebpf", Start: t0.Add(-time.Second)},
		Trailer: Trailer{End: t0.Add(time.Minute),
			Hosts: capture.HostsDecision{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8:a::10")},
				Origin: capture.OriginInterface, Iface: "eth0"},
			Stats: capture.Stats{
				Backend: "ebpf", Iface: "eth0", Start: t0, End: t0.Add(50 * time.Second),
				Packets: 41, Bytes: 5120, Flows: 3, Undecodable: 1, IfaceDrops: 2, KernelDrops: 3,
				MissedBytes: 4, Evicted: 1, Warnings: []string{"eth0: 3 packets dropped by the kernel"},
				Attribution: "best effort (cgroup socket hooks)",
			}},
		Flows: []flow.Flow{
			{
				UID: "CgK1e5Qx3vYb2mN8aa", Proto: flow.ProtoTCP,
				Orig:  netip.MustParseAddrPort("192.0.2.10:40000"),
				Resp:  netip.MustParseAddrPort("203.0.113.25:25"),
				Start: t0, End: t0.Add(2 * time.Second),
				OrigPkts: 6, RespPkts: 5, OrigBytes: 310, RespBytes: 420,
				State: flow.StateSF, History: "ShADadFf", Outcome: flow.Established, Attempts: 1,
				MissedBytes: 4,
				OrigNames:   []string{"gw1.example.net"}, RespNames: []string{"mx1.example.com", "mx.example.com"},
				ServerName: "mx1.example.com",
				Process:    &flow.Process{PID: 4242, Comm: "postfix/smtp"},
			},
			{
				UID: "CpQ7rT2uV9wX4yZ1bb", Proto: flow.ProtoUDP,
				Orig:  netip.MustParseAddrPort("[2001:db8:a::10]:53000"),
				Resp:  netip.MustParseAddrPort("[2001:db8:ff::53]:53"),
				Start: t0.Add(10 * time.Second), End: t0.Add(10*time.Second + 30*time.Millisecond),
				OrigPkts: 1, RespPkts: 0, OrigBytes: 40,
				State: flow.StateS0, History: "D", Outcome: flow.Unreachable, Attempts: 1,
				ICMP: &flow.ICMPError{Type: 1, Code: 1, Version: 6,
					From: netip.MustParseAddr("2001:db8:ff::1"), Time: t0.Add(10*time.Second + 30*time.Millisecond),
					Reason: "admin-prohibited"},
				Process: &flow.Process{PID: 777, Comm: "unbound"},
			},
			{
				UID: "CzY8xW7vU6tS5rQ4cc", Proto: flow.ProtoTCP,
				Orig:  netip.MustParseAddrPort("198.51.100.7:51515"),
				Resp:  netip.MustParseAddrPort("192.0.2.10:443"),
				Start: t0.Add(40 * time.Second), End: t0.Add(50 * time.Second),
				OrigPkts: 3, RespPkts: 0, OrigBytes: 0,
				State: flow.StateS0, History: "S", Outcome: flow.Unanswered, Attempts: 3,
				OrigNames: []string{"client.example.org"}, Open: true, Evicted: true,
			},
		},
	}
}

// TestV1SavedAsV2: a version-1 session saved again is a version-2 file
// with the same flows, stats and hosts.
func TestV1SavedAsV2(t *testing.T) {
	for _, name := range []string{"v1-mailcleaner.session.json", "v1-ebpf-handmade.session.json"} {
		v1, err := Load(filepath.Join(v1Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := Save(path, v1); err != nil {
			t.Fatal(err)
		}
		v2, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if v2.Version != Version {
			t.Errorf("%s saved as version %d", name, v2.Version)
		}
		v2.Version = 1
		if !reflect.DeepEqual(v2, v1) {
			t.Errorf("%s changed when saved as version 2:\n got %+v\nwant %+v", name, v2, v1)
		}
	}
}
