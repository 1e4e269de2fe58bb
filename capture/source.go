package capture

import (
	"errors"

	"github.com/gopacket/gopacket/layers"
)

// Frame is one captured link-layer frame. Data aliases the source's buffer
// and is valid only until the next call to Next.
type Frame struct {
	Data []byte
	// TS is the capture time in Unix nanoseconds.
	TS int64
	// WireLen is the original length on the wire (Data may be shorter).
	WireLen  int
	LinkType layers.LinkType
	// Dropped is the number of packets the source says it lost just before
	// this one (pcapng enhanced packet block drop count).
	Dropped uint64
}

// Source yields frames in capture order. Next returns io.EOF at the clean
// end of input; an error wrapping io.ErrUnexpectedEOF means the input was
// truncated and everything before it is still good.
type Source interface {
	Next(f *Frame) error
	Close() error
}

// ErrTimeout is returned by a live Source's Next when no frame arrived
// within its poll interval, so the caller can check for cancellation and
// report progress while the wire is quiet.
var ErrTimeout = errors.New("no packet before poll timeout")

// LiveOptions configures a live capture, whichever backend runs it.
type LiveOptions struct {
	Iface string
	// WritePcap, when set, keeps the raw packets in this pcapng file
	// (written to a temporary name and renamed when the capture stops).
	WritePcap string
	// Filter is a tcpdump-style capture filter (AF_PACKET backend only).
	Filter string
	// MaxFlows bounds the flow table (0: the default).
	MaxFlows int
}

// Live is a running live capture. Both backends (AF_PACKET and eBPF)
// implement it, so the capture command treats them alike.
type Live interface {
	// Backend names the backend: "afpacket" or "ebpf".
	Backend() string
	// Snapshot returns the flows and statistics so far, finished and
	// still active, for progress display and the --live view. It is safe to
	// call while the capture runs.
	Snapshot() Result
	// Stop ends the capture, finishes every flow and returns the result.
	Stop() (*Result, error)
}
