package pcapfile

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/text"
)

// readBufSize is the read buffer for capture files: pcapgo's default 4 KiB
// buffer costs a syscall every few packets (platform notes).
const readBufSize = 1 << 20

// ErrNotCapture is wrapped by Open's error when the file is neither
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
	name   string
	f      *os.File // nil when reading from another io.Reader (tests)
	in     *countingReader
	size   int64
	gz     *gzip.Reader
	pcap   *pcapgo.Reader
	recs   pcapRecords // pcap only: record lengths checked before pcapgo reads them
	ng     *pcapgo.NgReader
	guard  *ngGuard        // pcapng only: blocks checked before pcapgo reads them
	link   layers.LinkType // pcap only; pcapng gives it per packet
	frames uint64
	// pcapng drop accounting per (section, interface): drop counts seen
	// in EPB options, and the latest (cumulative) ISB isb_ifdrop.
	// Maps hold the current section only; pastDrops sums the drops of
	// the sections before it, so a file of a million sections costs no
	// more than one.
	section   int
	epbDrops  map[ifaceKey]uint64
	isbDrops  map[ifaceKey]uint64
	pastDrops uint64
	err       error // sticky: once reading failed, every Next returns it
}

// Open opens a capture file: pcap (µs or ns timestamps, either byte
// order), pcapng (several interfaces with different link types; the EPB
// drop count goes into capture.Frame.Dropped), or a gzip of either. The format is
// detected from the content, not the name. The returned capture.FrameReader reads frames
// without copying them (capture.Frame.Data is valid until the next Next). Whatever
// a file's headers claim, reading it holds no record over MaxRecord: a
// longer one, or one longer than the snap length, ends the file with an
// error wrapping ErrDamaged.
func Open(path string) (capture.FrameReader, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	in := &countingReader{r: f}
	s, err := newFileSource(path, in)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f, s.in, s.size = f, in, size
	return s, nil
}

// OpenReader reads a capture from a stream, such as standard input, as
// Open reads a file (the format is detected from the content, gzip
// included); name stands for the stream in errors and statistics. The
// stream's size is unknown, so InputBytes reports a size of 0. Closing
// the reader does not close r.
func OpenReader(name string, r io.Reader) (capture.FrameReader, error) {
	in := &countingReader{r: r}
	s, err := newFileSource(name, in)
	if err != nil {
		return nil, err
	}
	s.in = in
	return s, nil
}

// countingReader counts the bytes read from a file, for InputBytes. It is
// called once per read buffer (1 MiB), not per packet.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// InputBytes implements capture.InputCounter.
func (s *fileSource) InputBytes() (read, size int64) {
	if s.in == nil {
		return 0, 0
	}
	return s.in.n.Load(), s.size
}

// newFileSource reads a capture from r; name is used in errors.
func newFileSource(name string, r io.Reader) (*fileSource, error) {
	s := &fileSource{name: name}
	br := bufio.NewReaderSize(r, readBufSize)
	magic, err := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		if s.gz, err = gzip.NewReader(br); err != nil {
			return nil, fmt.Errorf("open capture %s: read gzip header: %w", name, err)
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
		return nil, fmt.Errorf("open capture %s: %w", name, readErr(err))
	}
	switch m := [4]byte(magic); m {
	case magicPcapUS, magicPcapNS, magicPcapUSBE, magicPcapNSBE:
		// pcapgo wraps br in a bufio.Reader of its default size, which
		// returns br itself since br is larger: s.recs peeks at the record
		// headers in the very buffer pcapgo reads.
		if s.pcap, err = pcapgo.NewReader(br); err != nil {
			return nil, fmt.Errorf("open capture %s: pcap header: %w", name, headerErr(err))
		}
		s.link = s.pcap.LinkType()
		s.recs = pcapRecords{br: br, order: binary.LittleEndian, off: 24,
			snap: int64(s.pcap.Snaplen()), limit: recordLimit(s.pcap.Snaplen())}
		if m == magicPcapUSBE || m == magicPcapNSBE {
			s.recs.order = binary.BigEndian
		}
	case magicPcapng:
		s.epbDrops = map[ifaceKey]uint64{}
		s.isbDrops = map[ifaceKey]uint64{}
		// pcapgo reads through the guard, in a buffer of its own (the
		// guard copies checked blocks into it).
		s.guard = newNgGuard(br)
		s.ng, err = pcapgo.NewNgReader(bufio.NewReaderSize(s.guard, 64<<10), pcapgo.NgReaderOptions{
			WantMixedLinkType:  true,
			SkipUnknownVersion: true,
			SectionEndCallback: func([]pcapgo.NgInterface, pcapgo.NgSectionInfo) { s.endSection() },
			StatisticsCallback: func(id int, st pcapgo.NgInterfaceStatistics) {
				if st.PacketsDropped != pcapgo.NgNoValue64 {
					s.isbDrops[ifaceKey{s.section, id}] = st.PacketsDropped
				}
			},
		})
		if err != nil {
			if gerr := s.guard.Err(); gerr != nil {
				err = gerr
			}
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
	return readErr(err)
}

// readErr says what a decompression or parse error means for the user,
// keeping the original for errors.Is/As: gzip's "flate: corrupt input
// before offset 106" is corrupt compressed data, and pcapgo's messages
// start with a capital letter where the rest of a flowaudit error does not.
func readErr(err error) error {
	var ce flate.CorruptInputError
	switch {
	case errors.As(err, &ce), errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("gzip data is corrupt (%w)", err)
	}
	msg := err.Error()
	if r, size := utf8.DecodeRuneInString(msg); unicode.IsUpper(r) && len(msg) > size {
		if next, _ := utf8.DecodeRuneInString(msg[size:]); unicode.IsLower(next) {
			return lowerFirst{err}
		}
	}
	return err
}

// lowerFirst prints an error with its first letter in lower case.
type lowerFirst struct{ err error }

func (e lowerFirst) Error() string {
	msg := e.err.Error()
	r, size := utf8.DecodeRuneInString(msg)
	return string(unicode.ToLower(r)) + msg[size:]
}

func (e lowerFirst) Unwrap() error { return e.err }

// Next reads the next frame. It returns io.EOF at the clean end of the
// file, and an error naming the file (wrapping io.ErrUnexpectedEOF when the
// file is truncated) after the last good frame.
func (s *fileSource) Next(fr *capture.Frame) error {
	if s.err != nil {
		return s.err
	}
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if s.pcap != nil {
		if err = s.recs.check(); err == nil {
			data, ci, err = s.pcap.ZeroCopyReadPacketData()
		}
		if err == io.EOF && !ci.Timestamp.IsZero() {
			// The record header was read but not one byte of its data.
			err = io.ErrUnexpectedEOF
		}
		fr.LinkType = s.link
		fr.Dropped = 0
	} else {
		var opts pcapgo.NgPacketOptions
		data, ci, opts, err = s.ng.ZeroCopyReadPacketDataWithOptions()
		if gerr := s.guard.Err(); err != nil && gerr != nil {
			err = gerr // pcapgo may have worded it as its own, or taken it for the end
		}
		if err == nil {
			fr.LinkType = s.link
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					fr.LinkType = lt
				}
			}
			fr.Dropped = 0
			if opts.DropCount != nil {
				fr.Dropped = epbDropCount(*opts.DropCount)
				s.epbDrops[ifaceKey{s.section, ci.InterfaceIndex}] += fr.Dropped
			}
		}
	}
	if err != nil {
		if err == io.EOF {
			s.err = io.EOF
		} else {
			s.err = fmt.Errorf("read capture %s: after %s: %w", s.name, text.Count(s.frames, "frame", "frames"), readErr(err))
		}
		return s.err
	}
	s.frames++
	fr.Data = data
	fr.TS = ci.Timestamp.UnixNano()
	fr.WireLen = ci.Length
	return nil
}

// epbDropCount undoes a pcapgo quirk: it decodes the EPB drop-count option
// as little-endian even in big-endian sections, and does not say which
// byte order the packet's section used. A real drop count is far below
// 2^32, and its byte-swapped form is far above, so the smaller of the two
// readings is the right one for every count below 2^32 in either order.
func epbDropCount(v uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return min(v, binary.BigEndian.Uint64(b[:]))
}

// ifaceKey names a pcapng interface: IDs restart in every section.
type ifaceKey struct{ section, iface int }

// InterfaceDrops implements capture.InterfaceDropCounter: per interface, the
// latest ISB drop count minus the EPB drop counts already delivered.
func (s *fileSource) InterfaceDrops() uint64 {
	return s.pastDrops + s.sectionDrops()
}

// sectionDrops is InterfaceDrops for the current section.
func (s *fileSource) sectionDrops() uint64 {
	var n uint64
	for k, isb := range s.isbDrops {
		if epb := s.epbDrops[k]; isb > epb {
			n += isb - epb
		}
	}
	return n
}

// endSection folds the drop counts of the section that ended into
// pastDrops: its interfaces are never named again.
func (s *fileSource) endSection() {
	s.pastDrops += s.sectionDrops()
	clear(s.isbDrops)
	clear(s.epbDrops)
	s.section++
}

// Close closes the file.
func (s *fileSource) Close() error {
	if s.gz != nil {
		s.gz.Close()
	}
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}
