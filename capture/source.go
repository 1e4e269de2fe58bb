package capture

import "github.com/gopacket/gopacket/layers"

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
