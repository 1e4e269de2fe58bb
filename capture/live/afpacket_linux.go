package live

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/netif"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
)

// Ring geometry for the TPACKET_V3 receive ring: 64 blocks of 512 KiB
// (32 MiB) absorb a burst of ~20k full-size frames while the flow table
// is busy; a block is handed over when full or after blockTimeout, which
// bounds how stale the progress display can be on a quiet wire.
const (
	afpFrameSize    = 2048
	afpBlockSize    = 512 << 10
	afpNumBlocks    = AFPacketRingBytes / afpBlockSize
	afpBlockTimeout = 20 * time.Millisecond
	afpPollTimeout  = 100 * time.Millisecond
	// afpDrainLimit bounds how long Stop keeps reading frames already in
	// the ring before it ends the capture.
	afpDrainLimit = time.Second
)

// afpSource reads frames from an AF_PACKET ring. It implements
// capture.FrameReader: Next returns ErrTimeout when the wire is quiet, and
// io.EOF once ctx was cancelled (or a stop requested) and the ring is
// drained.
type afpSource struct {
	iface   string
	ifindex int
	ctl     int // AF_INET socket for SIOCGIFFLAGS, or -1
	link    layers.LinkType
	tp      *afpacket.TPacket
	// since is when the filter was attached (Unix ns; 0 without one): the
	// ring may already hold unfiltered frames from before, skipped by time.
	since int64

	n        uint32 // frames read, for the periodic ctx check
	stopping atomic.Bool
	stopAt   atomic.Int64 // unix nanoseconds of the stop request
	ctx      context.Context

	pcap     *pcapgo.NgWriter
	pcapFile *atomicfile.File
	pcapBuf  *bufio.Writer
	pcapErr  error
	ci       gopacket.CaptureInfo

	// any: a capture on every interface (SOCK_DGRAM ring, frames cooked
	// into SLL2 in anyBuf).
	any    bool
	anyBuf []byte

	statsMu sync.Mutex
	drops   uint64 // cumulative PACKET_STATISTICS tp_drops
	seen    uint64 // cumulative tp_packets
}

// Next implements capture.FrameReader.
func (s *afpSource) Next(f *capture.Frame) error {
	for {
		// ctx is looked at on quiet wires and every 1024 frames: a stop
		// request through Stop is an atomic flag, checked every time.
		if s.n++; s.n&1023 == 0 && s.ctx.Err() != nil {
			s.requestStop()
		}
		if s.stopping.Load() && time.Now().UnixNano()-s.stopAt.Load() > int64(afpDrainLimit) {
			return io.EOF
		}
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				if s.ctx.Err() != nil {
					s.requestStop()
				}
				if s.stopping.Load() {
					return io.EOF // ring drained
				}
				return capture.ErrTimeout
			}
			if s.stopping.Load() {
				return io.EOF
			}
			// POLLERR: most often the interface went down or away.
			if cerr := s.ifaceState(); cerr != nil {
				return fmt.Errorf("capture on %s stopped: %w", s.iface, cerr)
			}
			return fmt.Errorf("capture on %s: read: %w", s.iface, err)
		}
		// Until bind, the socket hears every interface: skip those frames.
		if !s.any && ci.InterfaceIndex != s.ifindex {
			continue
		}
		f.TS = ci.Timestamp.UnixNano()
		if f.TS < s.since {
			continue
		}
		f.WireLen = ci.Length
		if s.any {
			data = cooked(s.anyBuf, data, ci.InterfaceIndex)
			f.WireLen += sll2Len
			ci.CaptureLength, ci.Length = len(data), f.WireLen
		}
		f.Data = data
		f.LinkType = s.link
		f.Dropped = 0
		if s.pcap != nil && s.pcapErr == nil {
			s.ci = ci
			s.ci.InterfaceIndex = 0
			s.ci.AncillaryData = nil
			s.pcapErr = s.pcap.WritePacket(s.ci, data)
		}
		return nil
	}
}

// ifaceState says whether the interface went down or away, asking in the
// capture's own network namespace (through ctl, opened next to the ring).
func (s *afpSource) ifaceState() error {
	if s.ctl < 0 || s.any {
		return nil
	}
	return netif.State(s.ctl, s.iface)
}

// Close implements capture.FrameReader; the socket is closed by
// AFPacket.Run once the packet path has returned.
func (s *afpSource) Close() error { return nil }

// close releases the ring and the control socket.
func (s *afpSource) close() {
	s.tp.Close()
	if s.ctl >= 0 {
		unix.Close(s.ctl)
		s.ctl = -1
	}
}

func (s *afpSource) requestStop() {
	if s.stopping.CompareAndSwap(false, true) {
		s.stopAt.Store(time.Now().UnixNano())
	}
}

// kernelStats reads PACKET_STATISTICS (the kernel resets it on each read;
// the afpacket handle keeps the running sums).
func (s *afpSource) kernelStats() (seen, drops uint64) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if _, v3, err := s.tp.SocketStats(); err == nil {
		s.seen, s.drops = uint64(v3.Packets()), uint64(v3.Drops())
	}
	return s.seen, s.drops
}

// openAFPacket opens and configures the ring on opts.Iface.
func openAFPacket(opts capture.LiveOptions) (*afpSource, error) {
	ifi, err := CheckInterface(opts.Iface)
	if err != nil {
		return nil, err
	}
	lt, err := ifaceLinkType(opts.Iface)
	if err != nil {
		return nil, err
	}
	onAny := opts.Iface == AnyIface
	if onAny && opts.Filter != "" {
		// The kernel runs a cooked socket's filter on the network header,
		// where a filter compiled for SLL2 would read the wrong bytes.
		return nil, &capture.LiveError{Iface: opts.Iface, Err: errors.New("--filter is not supported on any (capture on one interface to filter)")}
	}
	prog, err := CompileFilter(opts.Filter, lt)
	if err != nil {
		return nil, err
	}
	if isLoopback(opts.Iface) {
		prog = dropOutgoing(prog)
	}
	bind, sockType := opts.Iface, afpacket.SocketRaw
	if onAny {
		bind, sockType = "", afpacket.SocketDgram // every interface
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(bind),
		sockType,
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(afpFrameSize),
		afpacket.OptBlockSize(afpBlockSize),
		afpacket.OptNumBlocks(afpNumBlocks),
		afpacket.OptBlockTimeout(afpBlockTimeout),
		afpacket.OptPollTimeout(afpPollTimeout),
	)
	if err != nil {
		return nil, ClassifyOpenErr(opts.Iface, err)
	}
	s := &afpSource{iface: opts.Iface, ifindex: ifi.Index, link: lt, tp: tp, ctx: context.Background(), any: onAny}
	if onAny {
		s.anyBuf = make([]byte, sll2Len+afpFrameSize)
	}
	// A plain socket in the same namespace, for interface flag queries.
	if s.ctl, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
		s.ctl = -1
	}
	if prog != nil {
		if err := tp.SetBPF(prog); err != nil {
			s.close()
			return nil, fmt.Errorf("capture on %s: attach filter: %w", opts.Iface, err)
		}
		s.since = time.Now().UnixNano()
	}
	if opts.WritePcap != "" {
		if err := s.openPcap(opts); err != nil {
			s.close()
			return nil, err
		}
	}
	// Counters from before the filter was attached are noise: start clean.
	_ = tp.InitSocketStats()
	return s, nil
}

func (s *afpSource) openPcap(opts capture.LiveOptions) error {
	f, err := atomicfile.Create(opts.WritePcap)
	if err != nil {
		return fmt.Errorf("--write-pcap: %w", err)
	}
	intf := pcapgo.DefaultNgInterface
	intf.Name = opts.Iface
	intf.LinkType = s.link
	intf.Filter = opts.Filter
	wopts := pcapgo.DefaultNgWriterOptions
	wopts.SectionInfo.Application = "flowaudit"
	// pcapgo buffers 4 KiB; a larger buffer saves syscalls at high rates.
	s.pcapBuf = bufio.NewWriterSize(f, 1<<20)
	w, err := pcapgo.NewNgWriterInterface(s.pcapBuf, intf, wopts)
	if err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", opts.WritePcap, err)
	}
	s.pcap, s.pcapFile = w, f
	return nil
}

// closePcap ends the pcapng file with the interface statistics (kernel
// drops included) and moves it to its final name.
func (s *afpSource) closePcap(start, end time.Time) error {
	if s.pcapFile == nil {
		return nil
	}
	defer s.pcapFile.Abort()
	if s.pcapErr != nil {
		return fmt.Errorf("write %s: %w", s.pcapFile.Path(), s.pcapErr)
	}
	seen, drops := s.kernelStats()
	st := pcapgo.NgInterfaceStatistics{LastUpdate: end, StartTime: start, EndTime: end,
		PacketsReceived: seen, PacketsDropped: drops}
	if err := s.pcap.WriteInterfaceStats(0, st); err != nil {
		return fmt.Errorf("write %s: %w", s.pcapFile.Path(), err)
	}
	if err := s.pcap.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.pcapFile.Path(), err)
	}
	if err := s.pcapBuf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", s.pcapFile.Path(), err)
	}
	return s.pcapFile.Commit()
}

// AFPacket is an AF_PACKET live capture: the ring's frames through
// capture's packet path (capture.Packets), as a replay reads a file.
type AFPacket struct {
	src      *afpSource
	maxFlows int
}

// Supported returns nil: live capture works on Linux (whether this
// process may open a packet socket is known only when it tries).
func Supported() error { return nil }

// OpenAFPacket opens a TPACKET_V3 ring on opts.Iface (pure Go, no
// libpcap), with opts.Filter attached and opts.WritePcap created; the
// flow table holds opts.MaxFlows (0: DefaultMaxFlows). Errors
// name the interface and say what is wrong in one line: missing
// interface, interface down, no CAP_NET_RAW, bad filter.
func OpenAFPacket(opts capture.LiveOptions) (*AFPacket, error) {
	src, err := openAFPacket(opts)
	if err != nil {
		return nil, err
	}
	maxFlows := opts.MaxFlows
	if maxFlows <= 0 {
		maxFlows = DefaultMaxFlows
	}
	return &AFPacket{src: src, maxFlows: maxFlows}, nil
}

// MaxFlows is the flow table's bound (DefaultMaxFlows unless set).
func (a *AFPacket) MaxFlows() int { return a.maxFlows }

// Run implements capture.Source, as Source describes: frames are read
// until ctx is cancelled and the ring drained (at most afpDrainLimit
// more), or until the interface goes down or away. Then every open flow is
// delivered, the kernel's drop count read, the --write-pcap file completed
// and the socket closed.
func (a *AFPacket) Run(ctx context.Context, e *capture.Emitter) (capture.Stats, error) {
	start := time.Now()
	// The reader watches ctx itself and ends with io.EOF once the ring is
	// drained, so the packet path's own ctx is never cancelled: the last
	// packets are not lost.
	a.src.ctx = ctx
	flows := capture.Packets(a.src, capture.PacketOptions{
		Table:       flow.Config{MaxFlows: a.maxFlows},
		Backend:     "afpacket",
		Iface:       a.src.iface,
		KernelDrops: a.kernelDrops,
	})
	st, err := flows.Run(context.Background(), e)
	perr := a.src.closePcap(start, time.Now())
	a.src.close()
	return st, errors.Join(err, perr)
}

// kernelDrops is PACKET_STATISTICS' drop count so far.
func (a *AFPacket) kernelDrops() uint64 { _, d := a.src.kernelStats(); return d }

// Close releases the ring and discards the --write-pcap file of a capture
// that was never run.
func (a *AFPacket) Close() error {
	if a.src.pcapFile != nil {
		a.src.pcapFile.Abort()
	}
	a.src.close()
	return nil
}

// isLoopback reports whether iface is a loopback device, where every
// packet passes the socket twice (going out and coming in).
func isLoopback(iface string) bool {
	b, err := os.ReadFile("/sys/class/net/" + iface + "/type")
	return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(arphrdLoopback)
}

// dropOutgoing prefixes prog (nil: accept all) with a test that rejects
// outgoing packets, as libpcap does on loopback so each packet is seen
// once. Jumps in prog are relative, so prefixing keeps them valid.
func dropOutgoing(prog []bpf.RawInstruction) []bpf.RawInstruction {
	pre, _ := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	})
	if prog == nil {
		accept, _ := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 1 << 18}})
		prog = accept
	}
	return append(pre, prog...)
}
