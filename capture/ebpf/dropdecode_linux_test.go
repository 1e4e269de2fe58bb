//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

func testReasons(t testing.TB) *DropReasons {
	t.Helper()
	b, err := btf.NewBuilder([]btf.Type{&btf.Enum{Name: "skb_drop_reason", Size: 4, Values: fakeReasons}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	r, err := DropReasonsFromBTF(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// key16 is an address as the probe stores it (IPv4-mapped for IPv4).
func key16(s string) [16]uint8 { return netip.MustParseAddr(s).As16() }

func comm(s string) (c [16]uint8) {
	copy(c[:], s)
	return c
}

func TestToLocalDrop(t *testing.T) {
	r := testReasons(t)
	c := clock{offset: 1_000_000_000_000_000_000} // 2001-09-09T01:46:40Z at boot time 0
	t0 := time.Unix(0, c.offset).UTC()
	for _, tc := range []struct {
		name string
		k    dropprobeDropKey
		v    dropprobeDropVal
		want capture.LocalDrop
	}{{
		name: "output TCP SYN, process from the connect hook",
		k: dropprobeDropKey{Saddr: key16("::ffff:203.0.113.10"), Daddr: key16("::ffff:198.51.100.7"),
			Sport: 40000, Dport: 2703, Reason: 70, Proto: 6, Dir: dropDirOutput, Version: 4},
		v: dropprobeDropVal{FirstNs: 5, LastNs: 2_000_000_005, Packets: 3, Bytes: 180, CgroupId: 42, Pid: 9801,
			TcpFlags: 0x02, ProcHow: 1, Comm: comm("razor-check")},
		want: capture.LocalDrop{Proto: 6, Src: netip.MustParseAddrPort("203.0.113.10:40000"),
			Dst: netip.MustParseAddrPort("198.51.100.7:2703"), Direction: capture.DropOutput, Reason: "netfilter-drop",
			Packets: 3, Bytes: 180, TCPFlags: 0x02, First: t0.Add(5), Last: t0.Add(2_000_000_005),
			Process: &flow.Process{PID: 9801, Comm: "razor-check"}, CgroupID: 42},
	}, {
		name: "input UDP over IPv6: no process even if set",
		k: dropprobeDropKey{Saddr: key16("2001:db8::1"), Daddr: key16("2001:db8::2"), Sport: 5353, Dport: 6277,
			Reason: 3, Proto: 17, Dir: dropDirInput, Version: 6},
		v: dropprobeDropVal{Packets: 1, Bytes: 60, Ifindex: 7, Pid: 1, ProcHow: 2, Comm: comm("x"), CgroupId: 9,
			TcpFlags: 0x12},
		want: capture.LocalDrop{Proto: 17, Src: netip.MustParseAddrPort("[2001:db8::1]:5353"),
			Dst: netip.MustParseAddrPort("[2001:db8::2]:6277"), Direction: capture.DropInput, Reason: "neigh-failed",
			Packets: 1, Bytes: 60, First: t0, Last: t0, Ifindex: 7},
	}, {
		name: "ICMP echo request: type and code in the ports; pid without a source is dropped",
		k: dropprobeDropKey{Saddr: key16("::ffff:203.0.113.10"), Daddr: key16("::ffff:198.51.100.7"), Sport: 8,
			Dport: 0, Reason: 12, Proto: 1, Dir: dropDirOutput, Version: 4},
		v: dropprobeDropVal{Packets: 2, Bytes: 168, Pid: 77, ProcHow: dropProcNone},
		want: capture.LocalDrop{Proto: 1, Src: netip.MustParseAddrPort("203.0.113.10:8"),
			Dst: netip.MustParseAddrPort("198.51.100.7:0"), Direction: capture.DropOutput, Reason: "reason-12",
			Packets: 2, Bytes: 168, First: t0, Last: t0},
	}} {
		got := toLocalDrop(&tc.k, &tc.v, r, c)
		if (got.Process == nil) != (tc.want.Process == nil) || (got.Process != nil && *got.Process != *tc.want.Process) {
			t.Errorf("%s: process %+v, want %+v", tc.name, got.Process, tc.want.Process)
		}
		got.Process, tc.want.Process = nil, nil
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestDropTableEviction(t *testing.T) {
	r := testReasons(t)
	tbl := newDropTable(2)
	ka := dropprobeDropKey{Saddr: key16("::ffff:203.0.113.10"), Daddr: key16("::ffff:198.51.100.7"), Dport: 2703,
		Proto: 6, Dir: dropDirOutput, Version: 4, Reason: 70}
	kb, kc := ka, ka
	kb.Dport, kc.Dport = 22, 25

	tbl.begin()
	tbl.merge(&ka, &dropprobeDropVal{FirstNs: 10, LastNs: 20, Packets: 2, Bytes: 120, TcpFlags: 2})
	tbl.merge(&kb, &dropprobeDropVal{FirstNs: 11, LastNs: 21, Packets: 1})
	tbl.end()
	if tbl.live != 2 || len(tbl.records(r, clock{})) != 2 {
		t.Fatalf("live %d, records %d; want 2, 2", tbl.live, len(tbl.records(r, clock{})))
	}

	// a evicted by the kernel: kept as last read, marked.
	tbl.begin()
	tbl.merge(&kb, &dropprobeDropVal{FirstNs: 11, LastNs: 30, Packets: 4})
	tbl.end()
	byPort := func() map[uint16]capture.LocalDrop {
		m := map[uint16]capture.LocalDrop{}
		for _, d := range tbl.records(r, clock{}) {
			m[d.Dst.Port()] = d
		}
		return m
	}
	if d := byPort()[2703]; !d.Evicted || d.Packets != 2 {
		t.Errorf("evicted entry: %+v", d)
	}
	if d := byPort()[22]; d.Evicted || d.Packets != 4 {
		t.Errorf("live entry: %+v", d)
	}

	// a made again by the kernel: earlier counts are added, first time kept.
	tbl.begin()
	tbl.merge(&ka, &dropprobeDropVal{FirstNs: 40, LastNs: 50, Packets: 1, Bytes: 60, TcpFlags: 0x10})
	tbl.merge(&kb, &dropprobeDropVal{FirstNs: 11, LastNs: 30, Packets: 4})
	tbl.end()
	d := byPort()[2703]
	if d.Evicted || d.Packets != 3 || d.Bytes != 180 || d.TCPFlags != 0x12 || d.First != (clock{}).wall(10) ||
		d.Last != (clock{}).wall(50) {
		t.Errorf("re-created entry: %+v", d)
	}

	// over the bound (2): the evicted entry dropped longest ago goes.
	tbl.begin()
	tbl.merge(&kc, &dropprobeDropVal{FirstNs: 60, LastNs: 60, Packets: 1})
	tbl.end()
	m := byPort()
	if len(m) != 2 || tbl.forgotten != 1 {
		t.Fatalf("after trim: %d records, %d forgotten; want 2, 1", len(m), tbl.forgotten)
	}
	if _, ok := m[22]; ok {
		t.Errorf("kept the entry dropped longest ago (port 22, last 30), want it forgotten: %v", m)
	}
}

// FuzzDropRecord decodes arbitrary kernel records: no panic, IPv4
// addresses come out unmapped, and output direction alone carries a
// process.
func FuzzDropRecord(f *testing.F) {
	var seed bytes.Buffer
	binary.Write(&seed, binary.NativeEndian, dropprobeDropKey{Saddr: key16("::ffff:203.0.113.10"), Version: 4, Dir: 2})
	binary.Write(&seed, binary.NativeEndian, dropprobeDropVal{Pid: 1, ProcHow: 1, Comm: comm("sh")})
	f.Add(seed.Bytes())
	f.Add([]byte{})
	r := testReasons(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var k dropprobeDropKey
		var v dropprobeDropVal
		rd := bytes.NewReader(b)
		if binary.Read(rd, binary.NativeEndian, &k) != nil || binary.Read(rd, binary.NativeEndian, &v) != nil {
			return
		}
		d := toLocalDrop(&k, &v, r, clock{})
		if k.Version == 4 && netip.AddrFrom16(k.Saddr).Is4In6() && !d.Src.Addr().Is4() {
			t.Errorf("IPv4 source left mapped: %v", d.Src)
		}
		if d.Process != nil && d.Direction != capture.DropOutput {
			t.Errorf("process on a %v drop", d.Direction)
		}
		if d.Reason == "" {
			t.Error("empty reason")
		}
	})
}
