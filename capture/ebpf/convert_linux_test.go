//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
	"golang.org/x/sys/unix"
)

// TestEventLayout checks parseEvent's offsets against the bpf2go type.
func TestEventLayout(t *testing.T) {
	var e flowPayloadEvent
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"key", unsafe.Offsetof(e.Key), evKey},
		{"ts", unsafe.Offsetof(e.Ts), evTS},
		{"len", unsafe.Offsetof(e.Len), evLen},
		{"dir", unsafe.Offsetof(e.Dir), evDir},
		{"kind", unsafe.Offsetof(e.Kind), evKind},
		{"data", unsafe.Offsetof(e.Data), evData},
		{"key size", unsafe.Sizeof(e.Key), evKeySize},
		{"flow_val fits data", min(unsafe.Sizeof(flowFlowVal{}), uintptr(len(e.Data))), unsafe.Sizeof(flowFlowVal{})},
	} {
		if c.got != c.want {
			t.Errorf("payload_event.%s at %d, parseEvent assumes %d", c.name, c.got, c.want)
		}
	}
}

func keyFor(a string, ap uint16, b string, bp uint16, proto uint8) flowFlowKey {
	var k flowFlowKey
	k.AddrLo = netip.MustParseAddr(a).As16()
	k.AddrHi = netip.MustParseAddr(b).As16()
	k.PortLo, k.PortHi, k.Proto = ap, bp, proto
	return k
}

func event(k flowFlowKey, dir, kind uint8, data []byte) []byte {
	raw := make([]byte, evData+len(data))
	copy(raw[0:16], k.AddrLo[:])
	copy(raw[16:32], k.AddrHi[:])
	binary.LittleEndian.PutUint16(raw[32:], k.PortLo)
	binary.LittleEndian.PutUint16(raw[34:], k.PortHi)
	raw[36] = k.Proto
	binary.LittleEndian.PutUint64(raw[evTS:], 1234)
	binary.LittleEndian.PutUint32(raw[evLen:], uint32(len(data)))
	raw[evDir], raw[evKind] = dir, kind
	copy(raw[evData:], data)
	return raw
}

func TestParseEvent(t *testing.T) {
	k := keyFor("192.0.2.1", 40000, "198.51.100.2", 443, flow.ProtoTCP)
	raw := event(k, dirLo, payloadTLS, []byte("hello"))
	gk, ts, dir, kind, data, ok := parseEvent(raw)
	if !ok || gk != k || ts != 1234 || dir != dirLo || kind != payloadTLS || string(data) != "hello" {
		t.Errorf("parseEvent = %+v %d %d %d %q %v", gk, ts, dir, kind, data, ok)
	}
	// A length larger than the record is clamped, a short record refused.
	binary.LittleEndian.PutUint32(raw[evLen:], 9999)
	if _, _, _, _, data, ok := parseEvent(raw); !ok || len(data) != 5 {
		t.Errorf("oversized len: %q %v", data, ok)
	}
	if _, _, _, _, _, ok := parseEvent(raw[:evData-1]); ok {
		t.Errorf("short record accepted")
	}
	if n := testing.AllocsPerRun(100, func() { parseEvent(raw) }); n != 0 {
		t.Errorf("parseEvent allocates %.0f times", n)
	}
}

func FuzzParseEvent(f *testing.F) {
	k := keyFor("2001:db8::1", 53, "2001:db8::2", 40000, flow.ProtoUDP)
	f.Add(event(k, dirLo, payloadDNS, []byte{0, 1, 0x81, 0x80}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _, _, _, data, ok := parseEvent(raw)
		if ok && len(data) > len(raw)-evData {
			t.Fatalf("data %d bytes from a %d-byte record", len(data), len(raw))
		}
		if !ok && len(raw) >= evData {
			t.Fatalf("record of %d bytes refused", len(raw))
		}
	})
}

// TestOrigDir covers the originator choice: kernel clues win, otherwise
// the Table's first-packet heuristic.
func TestOrigDir(t *testing.T) {
	k := keyFor("192.0.2.1", 25, "198.51.100.2", 40000, flow.ProtoTCP) // lo side is the server port
	cases := []struct {
		name   string
		proto  uint8
		opener uint8
		how    uint8
		want   uint8
	}{
		{"syn from hi", flow.ProtoTCP, dirHi, 2, dirHi},
		{"syn-ack fix-up", flow.ProtoTCP, dirHi, 1, dirHi},
		{"first packet from server port flips", flow.ProtoTCP, dirLo, openerFirst, dirHi},
		{"first packet from client port", flow.ProtoTCP, dirHi, openerFirst, dirHi},
		{"udp from server port flips", flow.ProtoUDP, dirLo, openerFirst, dirHi},
		{"icmp never flips", flow.ProtoICMP, dirLo, openerFirst, dirLo},
	}
	// UDP from a server port to a multicast group: no flip towards the group.
	mk := keyFor("192.0.2.1", 53, "224.0.0.251", 40000, flow.ProtoUDP)
	mv := flowFlowVal{Opener: dirLo, OpenerHow: openerFirst}
	if got := origDir(&mk, &mv); got != dirLo {
		t.Errorf("multicast: origDir = %d, want the sender", got)
	}
	for _, c := range cases {
		kk := k
		kk.Proto = c.proto
		v := flowFlowVal{Opener: c.opener, OpenerHow: c.how}
		if got := origDir(&kk, &v); got != c.want {
			t.Errorf("%s: origDir = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestToFlow(t *testing.T) {
	k := keyFor("192.0.2.1", 40000, "198.51.100.2", 25, flow.ProtoTCP)
	v := flowFlowVal{FirstNs: 1e9, LastNs: 2e9, Pkts: [2]uint64{3, 0}, Syns: [2]uint32{3, 0},
		Flags: [2]uint32{0x02, 0}, Opener: dirLo, OpenerHow: 2, IcmpSeen: 1, IcmpType: 3, IcmpCode: 13,
		IcmpVersion: 4, IcmpNs: 15e8, Pid: 42}
	v.IcmpFrom = netip.MustParseAddr("203.0.113.1").As16()
	copy(v.Comm[:], "razor-check")
	f := toFlow(&k, &v, clock{offset: 1e12})
	if f.Outcome != flow.Unreachable || f.State != flow.StateS0 || f.Attempts != 3 || !f.Open {
		t.Errorf("labtest.Verdict %s %s attempts %d open %v", f.Outcome, f.State, f.Attempts, f.Open)
	}
	if f.Orig.String() != "192.0.2.1:40000" || f.Resp.String() != "198.51.100.2:25" {
		t.Errorf("endpoints %s -> %s", f.Orig, f.Resp)
	}
	if f.ICMP == nil || f.ICMP.Reason != "admin-prohibited" || f.ICMP.From.String() != "203.0.113.1" ||
		f.ICMP.Time.UnixNano() != 1e12+15e8 {
		t.Errorf("icmp %+v", f.ICMP)
	}
	if f.Process == nil || f.Process.PID != 42 || f.Process.Comm != "razor-check" {
		t.Errorf("process %+v", f.Process)
	}
	if f.Start.UnixNano() != 1e12+1e9 || f.End.UnixNano() != 1e12+2e9 {
		t.Errorf("times %v %v", f.Start, f.End)
	}
}

func TestUIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for n := uint64(1); n <= 100000; n++ {
		u := uid(n)
		if len(u) != 18 || u[0] != 'C' || seen[u] {
			t.Fatalf("uid(%d) = %q (dup %v)", n, u, seen[u])
		}
		seen[u] = true
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestProbeErr: a feature the kernel lacks and a probe this process may
// not run are told apart, one line each.
func TestProbeErr(t *testing.T) {
	missing := probeErr("tcx links", fmt.Errorf("detect support for tcx: %w", ebpf.ErrNotSupported))
	if !errors.Is(missing, ebpf.ErrNotSupported) || !strings.Contains(missing.Error(), "needs tcx links, which this kernel lacks") {
		t.Errorf("missing feature: %v", missing)
	}
	denied := probeErr("TC programs", fmt.Errorf("load program: %w", unix.EPERM))
	if errors.Is(denied, ebpf.ErrNotSupported) || !strings.Contains(denied.Error(), "needs root (or CAP_BPF and CAP_NET_ADMIN)") {
		t.Errorf("no privilege: %v", denied)
	}
	for _, err := range []error{missing, denied} {
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("not one line: %q", err)
		}
	}
}

func TestPrivilegedSupported(t *testing.T) {
	requireRoot(t)
	if err := Supported(); err != nil {
		t.Errorf("Supported on this kernel as root: %v", err)
	}
}

// TestPayloadAllocs: a DNS query and its answer cost no allocation once
// the names are known (the ring-buffer path is the only per-packet work in
// user space), and the answer is paired with the query: the event's
// direction gives the transport.
func TestPayloadAllocs(t *testing.T) {
	names := naming.NewCache()
	l := testSource(names, nil)
	k := keyFor("192.0.2.10", 41000, "198.51.100.53", 53, flow.ProtoUDP)
	query := event(k, dirLo, payloadDNS, dnsQuery(t, "mx.example.net"))
	answer := event(k, dirHi, payloadDNS, dnsAnswer(t, "mx.example.net", "198.51.100.25"))
	server := netip.MustParseAddr("198.51.100.25")
	l.payload(answer)
	if names.Len() != 0 {
		t.Fatal("an answer without its query named an address")
	}
	l.payload(query)
	l.payload(answer)
	if names.Len() != 1 {
		t.Fatal("the answer to a query seen named nothing")
	}
	if n := testing.AllocsPerRun(200, func() { l.payload(query); l.payload(answer) }); n != 0 {
		t.Errorf("payload (DNS query and answer) allocates %.1f times", n)
	}
	if got := names.Names(server, int64(1234)+l.clock.offset); len(got) != 1 || got[0] != "mx.example.net" {
		t.Errorf("names %q", got)
	}
}

// delivery is one flow a mirror delivered, as it ended.
type delivery struct {
	k   kernelFlow
	how ending
}

// testSource is a Source without kernel objects, for its user-space
// parts: naming through names, deliveries appended to *got (may be nil).
func testSource(names *naming.Cache, got *[]delivery) *Source {
	s := &Source{e: capture.NewEmitter(capture.SinkFuncs{}, capture.Options{Names: names})}
	s.mirror = newMirror(1<<16, func(k *kernelFlow, how ending) {
		if got != nil {
			*got = append(*got, delivery{*k, how})
		}
	})
	return s
}
