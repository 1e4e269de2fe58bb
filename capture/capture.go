// Package capture is the one pipeline from a capture to finished flows: a
// Source (Packets over a FrameReader, or the eBPF backend's kernel flows)
// hands each finished flow to the Emitter, which names it and passes it to
// a Sink (Run, Replay). It also holds the vocabulary sources and consumers
// share (Frame, FrameReader, Stats, Progress, Result, the live capture's
// options and errors, local drops). It holds no file, socket or
// OS-specific code: capture files are read by capture/pcapfile, live
// traffic by capture/live and capture/ebpf. docs/architecture.md draws
// the data path.
package capture

import (
	"strconv"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Stats describes the evidence a capture gathered, including every signal
// that packets were lost, so a report can say how far "never seen" is to be
// trusted.
type Stats struct {
	Backend string   `json:"backend"` // "file", "afpacket", "ebpf"
	Files   []string `json:"files,omitempty"`
	Iface   string   `json:"iface,omitempty"`
	// Start and End are the capture's window. For capture files: the
	// times of the first and last packets, zero (and left out of JSON)
	// when there was none. For a live capture (capture/live, capture/ebpf):
	// the moment it started (Run) and the moment it stopped, packets or
	// not (SetWindow), so an empty capture has its window too, and a
	// Progress's End is the moment it was sent.
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	Packets uint64    `json:"packets"`
	Bytes   uint64    `json:"bytes"`
	Flows   uint64    `json:"flows"`

	// Undecodable counts frames the decoder could not parse (skipped),
	// including frames of a link type it does not support (one Warnings
	// line per such link type). Frames that carry no IP (ARP...) are
	// not counted.
	Undecodable uint64 `json:"undecodable"`
	// Duplicates counts the copies of packets a capture on Linux's "any"
	// (link type SLL or SLL2) saw on a second interface within 2 ms, left
	// out of every count but Packets and Bytes (docs/live.md).
	Duplicates uint64 `json:"duplicates,omitempty"`
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
	// ReadErrors are the errors that ended the reading of an input file
	// before its end (truncated or damaged), one line per file, as they
	// also appear in Warnings. Set by Replay.
	ReadErrors []string `json:"read_errors,omitempty"`
	// Interrupted is set by the packet source of capture files when its
	// context was cancelled before every input file was read to its end
	// (Warnings says after how many packets). Live sources never set it:
	// a live capture normally ends by cancellation.
	Interrupted bool `json:"interrupted,omitempty"`
	// Warnings are non-fatal problems, one line each (truncated file...).
	Warnings []string `json:"warnings,omitempty"`
	// Attribution says whether flows name the local process that opened
	// them (eBPF backend): "" when the backend cannot tell at all,
	// "best effort (cgroup socket hooks)" when it tried, or
	// "unavailable: <why>" when its hooks could not load.
	Attribution string `json:"attribution,omitempty"`
	// LocalDrops is what the live capture's local drop probe saw: the
	// capture host's own kernel drops by reason, and what it could not
	// record (docs/local-drops.md). Nil when no probe ran (a replay, or
	// the probe could not load: Warnings then says why).
	LocalDrops *LocalDropStats `json:"local_drops,omitempty"`
	// Spans are the capture windows of merged sessions, one per session
	// that holds packets (set by session.Merge when it merges several);
	// empty for a single capture, whose window is Start to End.
	Spans []Span `json:"spans,omitempty"`
}

// SetWindow makes s's Start and End a live capture's window: start to
// stop, widened to the first and last packets should one carry a time
// outside it (a packet queued before Run started). Times are UTC; a
// zero start or stop leaves that end as it was.
func (s *Stats) SetWindow(start, stop time.Time) {
	if !start.IsZero() && (s.Start.IsZero() || start.Before(s.Start)) {
		s.Start = start.UTC()
	}
	if stop.After(s.End) {
		s.End = stop.UTC()
	}
}

// Span is one session's capture window in merged sessions.
type Span struct {
	Node  string    `json:"node"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// LossSeen reports whether any sign of capture loss was seen: packets
// dropped or not decodable, data acknowledged but never captured, flows
// evicted, an input file not read to its end or a replay interrupted.
// Any of them means traffic may have gone unseen.
func (s *Stats) LossSeen() bool {
	return len(s.LossSignals()) > 0
}

// LossSignals says what was lost, one phrase per loss signal seen (for
// example "3 frames could not be decoded"), in a fixed order; nil when
// none was seen.
func (s *Stats) LossSignals() []string {
	var out []string
	for _, x := range []struct {
		n            uint64
		one, several string
	}{
		{s.KernelDrops, "packet dropped by the kernel", "packets dropped by the kernel"},
		{s.IfaceDrops, "packet dropped by the interface", "packets dropped by the interface"},
		{s.Undecodable, "frame could not be decoded", "frames could not be decoded"},
		{s.MissedBytes, "byte acknowledged but never captured", "bytes acknowledged but never captured"},
		{s.Evicted, "flow evicted from a full table", "flows evicted from a full table"},
		{uint64(len(s.ReadErrors)), "input file not read to its end (truncated or damaged)",
			"input files not read to their end (truncated or damaged)"},
	} {
		switch {
		case x.n == 1:
			out = append(out, "1 "+x.one)
		case x.n > 1:
			out = append(out, strconv.FormatUint(x.n, 10)+" "+x.several)
		}
	}
	if s.Interrupted {
		out = append(out, "the replay was interrupted before the end of its input")
	}
	return out
}

// Result is what a capture produced: flows and the evidence behind them,
// for consumers that hold them all (Collector.Result, session files).
type Result struct {
	Flows []flow.Flow `json:"flows"`
	Stats Stats       `json:"stats"`
}
