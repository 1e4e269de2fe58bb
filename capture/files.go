package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// readBufSize is the read buffer for capture files: pcapgo's default 4 KiB
// buffer costs a syscall every few packets (platform notes).
const readBufSize = 1 << 20

// ErrNotCapture is wrapped by OpenFile's error when the file is neither
// pcap nor pcapng (nor a gzip of one).
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// File magics, as the first four bytes read in file order.
var (
	magicPcapUS   = [4]byte{0xd4, 0xc3, 0xb2, 0xa1} // little-endian, µs
	magicPcapNS   = [4]byte{0x4d, 0x3c, 0xb2, 0xa1} // little-endian, ns
	magicPcapUSBE = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	magicPcapNSBE = [4]byte{0xa1, 0xb2, 0x3c, 0x4d}
	magicPcapKuz  = [4]byte{0x34, 0xcd, 0xb2, 0xa1} // "modified" pcap (Kuznetzov), little-endian
	magicPcapKuzB = [4]byte{0xa1, 0xb2, 0xcd, 0x34}
	magicPcapng   = [4]byte{0x0a, 0x0d, 0x0d, 0x0a}
)

// fileSource reads one pcap or pcapng file (possibly gzip-compressed).
type fileSource struct {
	name string
	f    *os.File
	gz   *gzip.Reader
	pcap *pcapgo.Reader
	ng   *pcapgo.NgReader
	link layers.LinkType // pcap only; pcapng gives it per packet
	// ngSwap is set when the pcapng section is big-endian: pcapgo reads
	// the EPB drop-count option as little-endian whatever the section says.
	ngSwap bool
	frames uint64
	err    error // sticky: once reading failed, every Next returns it
}

// OpenFile opens a capture file: pcap (µs or ns timestamps, either byte
// order), pcapng (several interfaces with different link types; the EPB
// drop count goes into Frame.Dropped), or a gzip of either. The format is
// detected from the content, not the name. The returned Source reads frames
// without copying them (Frame.Data is valid until the next Next).
func OpenFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	s, err := newFileSource(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func newFileSource(name string, f *os.File) (*fileSource, error) {
	s := &fileSource{name: name, f: f}
	br := bufio.NewReaderSize(f, readBufSize)
	magic, err := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if s.gz, err = gzip.NewReader(br); err != nil {
			return nil, fmt.Errorf("open capture %s: gzip: %w", name, err)
		}
		br = bufio.NewReaderSize(s.gz, readBufSize)
		magic, err = br.Peek(4)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(magic) == 0 {
				return nil, fmt.Errorf("open capture %s: empty file: %w", name, ErrNotCapture)
			}
			return nil, fmt.Errorf("open capture %s: %w", name, ErrNotCapture)
		}
		return nil, fmt.Errorf("open capture %s: %w", name, err)
	}
	switch [4]byte(magic) {
	case magicPcapUS, magicPcapNS, magicPcapUSBE, magicPcapNSBE:
		// pcapgo wraps br in a bufio.Reader of its default size, which
		// returns br itself since br is larger.
		if s.pcap, err = pcapgo.NewReader(br); err != nil {
			return nil, fmt.Errorf("open capture %s: pcap header: %w", name, headerErr(err))
		}
		s.link = s.pcap.LinkType()
	case magicPcapng:
		if hdr, err := br.Peek(12); err == nil {
			s.ngSwap = binary.BigEndian.Uint32(hdr[8:12]) == 0x1a2b3c4d
		}
		s.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{
			WantMixedLinkType:  true,
			SkipUnknownVersion: true,
		})
		if err != nil {
			return nil, fmt.Errorf("open capture %s: pcapng header: %w", name, headerErr(err))
		}
	case magicPcapKuz, magicPcapKuzB:
		return nil, fmt.Errorf("open capture %s: modified (Kuznetzov) pcap format is not supported: %w", name, ErrNotCapture)
	default:
		return nil, fmt.Errorf("open capture %s: %w", name, ErrNotCapture)
	}
	return s, nil
}

// headerErr makes a file that ends inside its header a truncation.
func headerErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Next reads the next frame. It returns io.EOF at the clean end of the
// file, and an error naming the file (wrapping io.ErrUnexpectedEOF when the
// file is truncated) after the last good frame.
func (s *fileSource) Next(fr *Frame) error {
	if s.err != nil {
		return s.err
	}
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if s.pcap != nil {
		data, ci, err = s.pcap.ZeroCopyReadPacketData()
		if err == io.EOF && !ci.Timestamp.IsZero() {
			// The record header was read but not one byte of its data.
			err = io.ErrUnexpectedEOF
		}
		fr.LinkType = s.link
		fr.Dropped = 0
	} else {
		var opts pcapgo.NgPacketOptions
		data, ci, opts, err = s.ng.ZeroCopyReadPacketDataWithOptions()
		if err == nil {
			fr.LinkType = s.link
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					fr.LinkType = lt
				}
			}
			fr.Dropped = 0
			if opts.DropCount != nil {
				fr.Dropped = *opts.DropCount
				if s.ngSwap {
					fr.Dropped = swap64(fr.Dropped)
				}
			}
		}
	}
	if err != nil {
		if err == io.EOF {
			s.err = io.EOF
		} else {
			s.err = fmt.Errorf("read capture %s: after %d frames: %w", s.name, s.frames, err)
		}
		return s.err
	}
	s.frames++
	fr.Data = data
	fr.TS = ci.Timestamp.UnixNano()
	fr.WireLen = ci.Length
	return nil
}

func swap64(v uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return binary.BigEndian.Uint64(b[:])
}

// Close closes the file.
func (s *fileSource) Close() error {
	if s.gz != nil {
		s.gz.Close()
	}
	return s.f.Close()
}
