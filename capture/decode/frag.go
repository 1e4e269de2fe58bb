package decode

import (
	"encoding/binary"
	"net/netip"
)

// Fragment map sizing. The map only remembers, per datagram, what the first
// fragment said (ports, ICMP type), so that later fragments count towards
// the right flow; it never buffers payload.
const (
	// fragSlots is the number of datagrams remembered at once (a power
	// of two). A busy gateway sees few fragmented datagrams in flight.
	fragSlots = 1024
	// fragProbe is how many neighbouring slots a key may live in; when
	// all are taken the oldest entry is replaced.
	fragProbe = 8
	// FragTimeout is how long, in nanoseconds of capture time, a first
	// fragment's entry stays usable: Linux's default ipfrag_time (30 s).
	FragTimeout int64 = 30e9
)

// fragKey identifies a fragmented datagram (RFC 791 / RFC 8200).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

// fragEntry is what the first fragment of a datagram told about it.
type fragEntry struct {
	key              fragKey
	ts               int64
	used             bool
	proto            uint8
	icmpType         uint8
	icmpCode         uint8
	srcPort, dstPort uint16
	icmpID           uint16
}

// fragTable is a fixed-size open-addressing map: bounded memory, no
// allocation, and stale entries are reused by age.
type fragTable struct {
	slots [fragSlots]fragEntry
}

func (k *fragKey) hash() uint64 {
	s, d := k.src.As16(), k.dst.As16()
	h := uint64(k.id)<<8 | uint64(k.proto)
	h ^= binary.LittleEndian.Uint64(s[0:8]) * 0x9e3779b97f4a7c15
	h ^= binary.LittleEndian.Uint64(s[8:16]) * 0xc2b2ae3d27d4eb4f
	h ^= binary.LittleEndian.Uint64(d[0:8]) * 0x165667b19e3779f9
	h ^= binary.LittleEndian.Uint64(d[8:16]) * 0x27d4eb2f165667c5
	h ^= h >> 29
	h *= 0x94d049bb133111eb
	return h ^ h>>32
}

// live reports whether e is a usable entry at capture time now. Time that
// runs backwards (merged files) keeps entries alive rather than losing them.
func (e *fragEntry) live(now int64) bool {
	return e.used && now-e.ts <= FragTimeout
}

// put remembers the transport fields of p, the first fragment of key.
func (t *fragTable) put(key fragKey, p *Packet) {
	base := key.hash()
	var slot *fragEntry
	for i := range uint64(fragProbe) {
		e := &t.slots[(base+i)&(fragSlots-1)]
		if e.used && e.key == key {
			slot = e
			break
		}
		if slot == nil && !e.live(p.TS) {
			slot = e
		}
	}
	if slot == nil { // all neighbours busy: replace the oldest
		slot = &t.slots[base&(fragSlots-1)]
		for i := uint64(1); i < fragProbe; i++ {
			if e := &t.slots[(base+i)&(fragSlots-1)]; e.ts < slot.ts {
				slot = e
			}
		}
	}
	*slot = fragEntry{
		key: key, ts: p.TS, used: true, proto: p.Proto,
		icmpType: p.ICMPType, icmpCode: p.ICMPCode, icmpID: p.ICMPID,
		srcPort: p.SrcPort, dstPort: p.DstPort,
	}
}

// get returns the live entry for key, or nil.
func (t *fragTable) get(key fragKey, now int64) *fragEntry {
	base := key.hash()
	for i := range uint64(fragProbe) {
		e := &t.slots[(base+i)&(fragSlots-1)]
		if e.used && e.key == key {
			if e.live(now) {
				return e
			}
			return nil
		}
	}
	return nil
}
