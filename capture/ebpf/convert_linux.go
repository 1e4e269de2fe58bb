//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"net/netip"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Kernel constants mirrored from bpf/flow.h.
const (
	dirLo = 0
	dirHi = 1

	openerFirst = 0 // sender of the first packet; the port heuristic applies

	payloadDNS  = 1
	payloadTLS  = 2
	payloadHTTP = 3

	eventFinished = 4 // a flow that ended when its entry was reused
)

// side returns one endpoint of a canonical key.
func side(k *flowFlowKey, dir uint8) (netip.Addr, uint16) {
	if dir == dirLo {
		return netip.AddrFrom16(k.AddrLo).Unmap(), k.PortLo
	}
	return netip.AddrFrom16(k.AddrHi).Unmap(), k.PortHi
}

// origDir is the direction of the originator: the kernel's clue from the
// first packet (SYN, SYN-ACK), or, when the first packet said nothing, the
// Table's port heuristic applied to it.
func origDir(k *flowFlowKey, v *flowFlowVal) uint8 {
	o := v.Opener & 1
	if v.OpenerHow == openerFirst {
		_, sp := side(k, o)
		da, dp := side(k, o^1)
		// As the Table: a packet to a group address came from the
		// originator, whatever its ports say.
		group := da.IsMulticast() || da == netip.AddrFrom4([4]byte{255, 255, 255, 255})
		if !group && flow.FirstPacketFlip(k.Proto, 0, sp, dp) {
			o ^= 1
		}
	}
	return o
}

// summary is the kernel entry as flow.Summary, whose Outcome and State are
// the one definition both capture paths use.
func summary(k *flowFlowKey, v *flowFlowVal, o uint8) flow.Summary {
	r := o ^ 1
	return flow.Summary{
		Proto:     k.Proto,
		OrigFlags: uint8(v.Flags[o]), RespFlags: uint8(v.Flags[r]),
		OrigPkts: v.Pkts[o], RespPkts: v.Pkts[r],
		OrigBytes: v.Bytes[o], RespBytes: v.Bytes[r],
		Attempts:  v.Syns[o],
		ICMPError: v.IcmpSeen != 0 && flow.ICMPFails(v.IcmpVersion == 6, v.IcmpType, v.IcmpCode),
	}
}

// clock turns the kernel's CLOCK_BOOTTIME nanoseconds into wall time.
type clock struct{ offset int64 }

func (c clock) wall(boot uint64) time.Time { return time.Unix(0, int64(boot)+c.offset).UTC() }

// toFlow converts one kernel entry into the Flow record both backends
// produce. Names and UID are filled by the caller.
func toFlow(k *flowFlowKey, v *flowFlowVal, c clock) flow.Flow {
	o := origDir(k, v)
	s := summary(k, v, o)
	oa, op := side(k, o)
	ra, rp := side(k, o^1)
	if k.Proto == flow.ProtoICMP || k.Proto == flow.ProtoICMPv6 {
		// As Zeek writes ICMP: type and code of the first packet.
		op, rp = uint16(v.FirstType), uint16(v.FirstCode)
	}
	f := flow.Flow{
		Proto:     k.Proto,
		Orig:      netip.AddrPortFrom(oa, op),
		Resp:      netip.AddrPortFrom(ra, rp),
		Start:     c.wall(v.FirstNs),
		End:       c.wall(v.LastNs),
		OrigPkts:  s.OrigPkts,
		RespPkts:  s.RespPkts,
		OrigBytes: s.OrigBytes,
		RespBytes: s.RespBytes,
		State:     s.State(),
		Outcome:   s.Outcome(),
		Attempts:  int(s.Attempts),
		Open:      !closed(k.Proto, s),
	}
	if v.IcmpSeen != 0 {
		v6 := v.IcmpVersion == 6
		f.ICMP = &flow.ICMPError{
			Type: v.IcmpType, Code: v.IcmpCode, Version: v.IcmpVersion,
			From:   netip.AddrFrom16(v.IcmpFrom).Unmap(),
			Time:   c.wall(v.IcmpNs),
			Reason: flow.ICMPReason(v6, v.IcmpType, v.IcmpCode),
		}
	}
	if v.Pid != 0 {
		f.Process = &flow.Process{PID: v.Pid, Comm: cString(v.Comm[:])}
	}
	return f
}

// timeout is how long a flow may stay idle before the Table finishes it:
// the same rule the kernel applies (bpf/timeout.h flow_timeout) with the
// values loadTC gives the kernel (flowConfig).
func timeout(k *flowFlowKey, v *flowFlowVal) uint64 {
	switch k.Proto {
	case flow.ProtoTCP:
		if closed(k.Proto, summary(k, v, dirLo)) {
			return flowConfig.CloseDelay
		}
		return flowConfig.TimeoutTcp
	case flow.ProtoUDP:
		if k.PortLo == 53 || k.PortHi == 53 {
			return flowConfig.TimeoutDns
		}
		return flowConfig.TimeoutUdp
	case flow.ProtoICMP, flow.ProtoICMPv6:
		return flowConfig.TimeoutIcmp
	}
	return flowConfig.TimeoutOther
}

// closed says whether a flow had ended when the capture stopped: a TCP
// connection reset by either side or closed by both. Flows without such an
// end are reported Open, as the Table reports them at end of input.
func closed(proto uint8, s flow.Summary) bool {
	if proto != flow.ProtoTCP {
		return false
	}
	const fin, rst = 0x01, 0x04
	return (s.OrigFlags|s.RespFlags)&rst != 0 || (s.OrigFlags&fin != 0 && s.RespFlags&fin != 0)
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// uid is the UID of flow number n of this run: the Table's algorithm
// (flow.UIDs), so a flow's UID does not depend on the backend.
func uid(n uint64) string { return flow.UID(n) }
