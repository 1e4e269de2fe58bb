package capture

import (
	"errors"
	"net/netip"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Local drops are packets the capture host's own kernel dropped (its
// firewall, routing, neighbour resolution...), which a capture on the wire
// cannot see. capture/ebpf's drop probe records them; these types are here
// so that analysis and reports use them without importing capture/ebpf.
// See docs/local-drops.md.

// ErrDropsUnavailable is wrapped by the error a drop probe returns when it
// cannot run on this kernel or with this process's privileges. The error's
// text says why in one line; capture goes on without local drops.
var ErrDropsUnavailable = errors.New("local drops not visible")

// DropDirection says which way a locally dropped packet was going.
type DropDirection uint8

const (
	// DropInput: the packet arrived on an interface of the namespace (it
	// was being received, or forwarded).
	DropInput DropDirection = 1
	// DropOutput: the host generated the packet (a local socket, or the
	// kernel itself, e.g. a reset) and dropped it before it left.
	DropOutput DropDirection = 2
)

// String returns "input", "output" or "unknown".
func (d DropDirection) String() string {
	switch d {
	case DropInput:
		return "input"
	case DropOutput:
		return "output"
	}
	return "unknown"
}

// MarshalText writes the direction as String does.
func (d DropDirection) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LocalDrop aggregates the packets of one direction of one flow that the
// host's kernel dropped for one reason. It is a plain value, safe to copy
// (== compares Process by pointer).
type LocalDrop struct {
	Proto uint8 `json:"proto"`
	// Src and Dst are the dropped packets' source and destination. For
	// ICMP and ICMPv6, Src's port holds the type and Dst's the code, as in
	// flow.Flow. A non-first IP fragment and protocols without ports
	// carry port 0.
	Src       netip.AddrPort `json:"src"`
	Dst       netip.AddrPort `json:"dst"`
	Direction DropDirection  `json:"direction"`
	// Reason is the kernel's drop reason as a stable lower-case name:
	// "netfilter-drop", "ip-outnoroutes", "neigh-failed", "socket-filter"
	// ... (enum skb_drop_reason without its SKB_DROP_REASON_ prefix).
	Reason   string    `json:"reason"`
	Packets  uint64    `json:"packets"` // a GSO packet counts its segments
	Bytes    uint64    `json:"bytes"`   // IP bytes as the kernel held them
	TCPFlags uint8     `json:"tcp_flags,omitempty"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	// Ifindex is the interface the first drop was on (input: the one it
	// arrived on; output: 0 when dropped before routing chose one).
	Ifindex int `json:"ifindex,omitempty"`
	// Process is the local program that sent the packets (output only,
	// best effort, nil when unknown); CgroupID is the cgroup v2 id of the
	// process that created their socket (output only, 0 when unknown).
	Process  *flow.Process `json:"process,omitempty"`
	CgroupID uint64        `json:"cgroup_id,omitempty"`
	// Evicted is set when the kernel map no longer holds the entry: the
	// counts are those last read, later drops of it may be missing.
	Evicted bool `json:"evicted,omitempty"`
}

// LocalDropStats counts what a drop probe saw and what it could not
// record. The zero value means nothing was seen.
type LocalDropStats struct {
	// ByReason counts every drop in the namespace by reason name, also
	// for reasons the probe does not record.
	ByReason map[string]uint64 `json:"by_reason,omitempty"`
	Recorded uint64            `json:"recorded"` // drops added to records
	// MapFull and Truncated are drops of recorded reasons that were lost:
	// the kernel map refused the entry, or the headers were unreadable.
	MapFull   uint64 `json:"map_full"`
	Truncated uint64 `json:"truncated"`
	// NotIP counts drops of recorded reasons that carried no IP packet
	// (ARP, ...); they are not records.
	NotIP uint64 `json:"not_ip"`
	// Evicted counts kernel entries the LRU map dropped for newer ones;
	// Forgotten counts evicted records user space then let go too (its
	// copy is bounded).
	Evicted   uint64 `json:"evicted"`
	Forgotten uint64 `json:"forgotten,omitempty"`
}

// Add adds o's counts to s (merged sessions).
func (s *LocalDropStats) Add(o *LocalDropStats) {
	for r, n := range o.ByReason {
		if s.ByReason == nil {
			s.ByReason = map[string]uint64{}
		}
		s.ByReason[r] += n
	}
	s.Recorded += o.Recorded
	s.MapFull += o.MapFull
	s.Truncated += o.Truncated
	s.NotIP += o.NotIP
	s.Evicted += o.Evicted
	s.Forgotten += o.Forgotten
}

// Lost counts the drops of recorded reasons that no record holds: the
// map was full or the headers unreadable.
func (s *LocalDropStats) Lost() uint64 { return s.MapFull + s.Truncated }
