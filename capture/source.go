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

// FrameReader yields frames in capture order. Next returns io.EOF at the
// clean end of input; an error wrapping io.ErrUnexpectedEOF means the input
// was truncated, and one wrapping ErrDamaged that it is damaged; in both
// cases everything before it is still good.
type FrameReader interface {
	Next(f *Frame) error
	Close() error
}

// ErrTimeout is returned by a live FrameReader's Next when no frame arrived
// within its poll interval, so the caller can check for cancellation and
// report progress while the wire is quiet.
var ErrTimeout = errors.New("no packet before poll timeout")

// ErrDamaged is wrapped by a read error for a record or block whose header
// contradicts its file (capture/pcapfile): a length over its MaxRecord or
// the snap length, or a pcapng block that does not fit its own length. Reading that file stops
// there, as at a truncation; the frames before it are kept.
var ErrDamaged = errors.New("damaged capture")

// InterfaceDropCounter is implemented by frame readers that learn of lost
// packets outside the frames: pcapng interface statistics blocks, whose
// isb_ifdrop count is cumulative per interface and usually written at the
// end of the file (dumpcap writes it; it rarely writes EPB drop counts).
type InterfaceDropCounter interface {
	// InterfaceDrops returns the packets the interface statistics say
	// were dropped beyond those already reported in Frame.Dropped. It is
	// complete once Next has returned io.EOF or an error.
	InterfaceDrops() uint64
}

// InputCounter is implemented by file readers: how many bytes of their
// files have been read so far, out of how many (compressed bytes for a
// gzip file), for progress displays. It may be called from another
// goroutine than the one calling Next.
type InputCounter interface {
	InputBytes() (read, size int64)
}
