// Package capture records traffic (offline from pcap/pcapng files, live
// through AF_PACKET or an eBPF TC program) and rebuilds flows with their
// outcomes. Linux-only backends live in _linux.go files.
package capture

import (
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Stats describes the evidence a capture gathered, including every signal
// that packets were lost, so a report can say how far "never seen" is to be
// trusted.
type Stats struct {
	Backend string    `json:"backend"` // "file", "afpacket", "ebpf"
	Files   []string  `json:"files,omitempty"`
	Iface   string    `json:"iface,omitempty"`
	Start   time.Time `json:"start"` // first packet
	End     time.Time `json:"end"`   // last packet
	Packets uint64    `json:"packets"`
	Bytes   uint64    `json:"bytes"`
	Flows   uint64    `json:"flows"`

	// Undecodable counts frames the decoder could not parse (skipped).
	Undecodable uint64 `json:"undecodable"`
	// IfaceDrops is the sum of pcapng per-packet/interface drop counts.
	IfaceDrops uint64 `json:"iface_drops"`
	// KernelDrops counts packets the kernel dropped (PACKET_STATISTICS,
	// ring-buffer drops, map insert failures).
	KernelDrops uint64 `json:"kernel_drops"`
	// MissedBytes counts bytes acknowledged but never seen (Zeek's
	// capture_loss signal).
	MissedBytes uint64 `json:"missed_bytes"`
	// Evicted counts flows finished early because the table was full.
	Evicted uint64 `json:"evicted"`
	// Warnings are non-fatal problems, one line each (truncated file...).
	Warnings []string `json:"warnings,omitempty"`
	// Attribution says whether flows name the local process that opened
	// them (eBPF backend): "" when the backend cannot tell at all,
	// "best effort (cgroup socket hooks)" when it tried, or
	// "unavailable: <why>" when its hooks could not load.
	Attribution string `json:"attribution,omitempty"`
}

// LossSeen reports whether any sign of capture loss was seen.
func (s *Stats) LossSeen() bool {
	return s.IfaceDrops > 0 || s.KernelDrops > 0 || s.MissedBytes > 0 || s.Evicted > 0
}

// Result is what a capture produced: flows and the evidence behind them.
type Result struct {
	Flows []flow.Flow `json:"flows"`
	Stats Stats       `json:"stats"`
}
