//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// pollInterval is how often the kernel map is copied to user space (and
// progress offered): a flow that ends, idles out or is evicted is
// delivered within it. ifaceCheckEvery is how often Run asks whether the
// interface is still up (one ioctl): a capture on an interface set down or
// deleted ends within it, as an AF_PACKET one does.
// drainLimit bounds the records handled before each read of the map (a
// flood of naming payloads must not hold the read up).
const (
	pollInterval    = time.Second
	ifaceCheckEvery = 250 * time.Millisecond
	drainLimit      = 1 << 16
)

// Source is an eBPF capture on one interface, its programs attached by
// Open. It implements capture.Source: Run reads the payload ring buffer
// and the kernel flow map, and delivers each flow once, when it ends (see
// mirror), until ctx is cancelled or the interface goes down or away.
type Source struct {
	iface string
	tc    *tcObjects
	attr  *attrObjects
	// links holds every attachment: a link.Link dropped to the garbage
	// collector detaches silently, so all are kept until Run returns.
	links []link.Link
	rd    *ringbuf.Reader
	clock clock
	watch *ifWatch // nil on "any"
	// On "any": the interfaces' TC links by index, and the lister that
	// finds new interfaces (see anyLinks).
	any         *anyLinks
	attribution string
	maxFlows    int

	mirror *mirror
	e      *capture.Emitter // set by Run
	// started is when Run began: the capture window's start.
	started time.Time
	// warned: a map read failed during the run (warned once).
	warned    string
	closeOnce sync.Once
}

var _ capture.Source = (*Source)(nil)

// Open attaches the flow programs (tcx ingress and egress) to opts.Iface
// in the caller's network namespace, and the attribution hooks to the
// cgroup2 root when they load (Stats.Attribution says whether they did).
// On "any" the flow programs go to every interface of the namespace but
// loopback (see linkLister.list), sharing one flow map, and Run attaches
// them to interfaces that appear while it runs.
// The capture runs when Run is called; Close releases a Source never run.
// Packets are not kept, so opts.WritePcap and opts.Filter are refused.
func Open(opts capture.LiveOptions) (*Source, error) {
	if opts.WritePcap != "" {
		return nil, errors.New("ebpf backend keeps no packets: --write-pcap needs the afpacket backend")
	}
	if opts.Filter != "" {
		return nil, errors.New("ebpf backend has no capture filter: --filter needs the afpacket backend")
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	onAny := opts.Iface == anyIface
	var ifc *net.Interface
	if !onAny {
		var err error
		if ifc, err = net.InterfaceByName(opts.Iface); err != nil {
			return nil, fmt.Errorf("ebpf capture on %q: %w", opts.Iface, err)
		}
	}
	maxFlows := opts.MaxFlows
	if maxFlows <= 0 {
		maxFlows = DefaultMaxFlows
	}
	tc, err := loadTC(maxFlows, onAny)
	if err != nil {
		return nil, err
	}
	s := &Source{iface: opts.Iface, tc: tc, clock: bootClock(), maxFlows: maxFlows}
	s.mirror = newMirror(maxFlows, s.deliver)
	if onAny {
		err = s.attachAny()
	} else {
		s.watch = newIfWatch(opts.Iface, ifc.Index)
		var lks []link.Link
		if lks, err = s.attachTC(ifc.Index, opts.Iface); err == nil {
			s.links = lks
		}
	}
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.attachAttribution()
	if s.rd, err = ringbuf.NewReader(tc.Payloads); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("open payload ring buffer: %w", err)
	}
	return s, nil
}

// attachTC attaches the TC programs to one interface.
func (s *Source) attachTC(ifindex int, name string) ([]link.Link, error) {
	var links []link.Link
	for _, a := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
		p := s.tc.Ingress
		if a == ebpf.AttachTCXEgress {
			p = s.tc.Egress
		}
		lk, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: p, Attach: a})
		if err != nil {
			for _, l := range links {
				_ = l.Close()
			}
			return nil, fmt.Errorf("attach %s to %s: %w", a, name, err)
		}
		links = append(links, lk)
	}
	return links, nil
}

// attachAttribution attaches the attribution hooks (best effort:
// s.attribution says why they are missing).
func (s *Source) attachAttribution() {
	s.attribution = AttributionOK
	attr, err := loadAttr(s.tc)
	if err != nil {
		s.attribution = "unavailable: " + err.Error()
		return
	}
	links, err := attachCgroupHooks(attr)
	if err != nil {
		attr.Close()
		s.attribution = "unavailable: " + err.Error()
		return
	}
	s.attr = attr
	s.links = append(s.links, links...)
}

// bootClock measures CLOCK_BOOTTIME's offset from wall time.
func bootClock() clock {
	var ts unix.Timespec
	before := time.Now()
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return clock{offset: before.UnixNano() - ts.Nano()}
}

// bootNow is CLOCK_BOOTTIME now, the kernel's packet clock.
func bootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// Run implements capture.Source. It reads the ring buffer (naming
// payloads, finished flows) and, every pollInterval, the kernel map, on
// the calling goroutine, until ctx is cancelled (then the programs are
// detached, the ring buffer drained and the map read a last time: every
// flow is delivered, and Run returns nil) or the interface goes down or
// away (the same, and Run returns "capture on IF stopped: interface is
// down", as the AF_PACKET backend does). Everything is released when it
// returns.
func (s *Source) Run(ctx context.Context, e *capture.Emitter) (capture.Stats, error) {
	s.e = e
	s.started = time.Now()
	defer s.Close()
	// Cancelling ctx wakes a read blocked on the ring buffer at once.
	unwake := context.AfterFunc(ctx, func() { _ = s.rd.Flush() })
	defer unwake()
	endErr := s.loop(ctx)
	return s.finish(endErr)
}

// loop reads the ring buffer until ctx is done or the capture ends by
// itself, refreshing the mirror and offering progress as time comes.
func (s *Source) loop(ctx context.Context) error {
	var rec ringbuf.Record
	now := time.Now()
	nextCheck, nextPoll := now.Add(ifaceCheckEvery), now.Add(pollInterval)
	for ctx.Err() == nil {
		s.rd.SetDeadline(nextCheck)
		err := s.rd.ReadInto(&rec)
		switch {
		case err == nil:
			s.payload(rec.RawSample)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, ringbuf.ErrFlushed):
		default:
			return fmt.Errorf("capture on %s: read ring buffer: %w", s.iface, err)
		}
		if now = time.Now(); now.Before(nextCheck) {
			continue
		}
		nextCheck = now.Add(ifaceCheckEvery)
		if s.any != nil {
			s.rescan()
		} else if why := s.ifaceState(); why != nil {
			return stoppedErr(s.iface, why)
		}
		if !now.Before(nextPoll) {
			nextPoll = now.Add(pollInterval)
			// Records first: a flow the read will find replaced then has
			// its final record taken already.
			s.drain(drainLimit)
			if err := s.mirror.refresh(s.tc.Flows, bootNow()); err != nil && s.warned == "" {
				s.warned = "read kernel flow map: " + err.Error()
			}
			// Progress right after a read of the map: the open flows it
			// lists are as fresh as they get.
			s.progress()
		}
	}
	return nil
}

// ifaceState says whether the interface went down or away: nil while it
// is there and up.
func (s *Source) ifaceState() error {
	why := s.watch.state()
	if why == nil && s.watch.ctl < 0 && s.ifaceGone() {
		why = capture.ErrNoInterface
	}
	return why
}

// ifaceGone reports whether the ingress link lost its device (the kernel
// detaches tcx links from a deleted device): the fallback when the control
// socket of s.watch could not be opened.
func (s *Source) ifaceGone() bool {
	if len(s.links) == 0 {
		return false
	}
	info, err := s.links[0].Info()
	if err != nil {
		return false
	}
	tcx := info.TCX()
	return tcx != nil && tcx.Ifindex == 0
}

// finish ends the capture: the programs are detached first, so that the
// last read sees everything the kernel counted, the ring buffer is
// drained, the map read, and every flow not delivered yet is delivered.
func (s *Source) finish(endErr error) (capture.Stats, error) {
	s.any.close()
	for _, lk := range s.links {
		_ = lk.Close()
	}
	s.links = nil
	s.drain(-1)
	err := s.mirror.refresh(s.tc.Flows, bootNow())
	s.mirror.stop()
	st := s.stats()
	if s.warned != "" {
		st.Warnings = append(st.Warnings, s.warned)
	}
	if s.any != nil && s.any.warned != "" {
		st.Warnings = append(st.Warnings, s.any.warned)
	}
	if err != nil {
		err = fmt.Errorf("read kernel flow map: %w", err)
	}
	return st, errors.Join(endErr, err)
}

// drain handles the records in the ring buffer now, at most limit of them
// (-1: all).
func (s *Source) drain(limit int) {
	var rec ringbuf.Record
	s.rd.SetDeadline(time.Now()) // read what is there, then stop
	for ; limit != 0 && s.rd.ReadInto(&rec) == nil; limit-- {
		s.payload(rec.RawSample)
	}
}

// deliver converts one kernel flow and hands it to the Emitter.
func (s *Source) deliver(k *kernelFlow, how ending) {
	f := s.flowOf(k, how)
	s.e.Flow(&f)
}

// flowOf converts one kernel flow as it ended.
func (s *Source) flowOf(k *kernelFlow, how ending) flow.Flow {
	f := toFlow(&k.key, &k.val, s.clock)
	f.UID = k.uid
	f.ServerName = k.serverName
	switch how {
	case endEvicted:
		f.Evicted, f.Open = true, false
	case endFinished:
		f.Open = false
	}
	return f
}

// progress hands the counts so far and the flows in the map to the
// Emitter, when a report is due.
func (s *Source) progress() {
	if !s.e.ProgressDue() {
		return
	}
	p := capture.Progress{Stats: s.stats(), Active: s.mirror.activeCount()}
	p.ActiveFlows = func(yield func(*flow.Flow) bool) {
		for k := range s.mirror.active {
			f := s.flowOf(k, endStopped)
			if !yield(&f) {
				return
			}
		}
	}
	s.e.Progress(p)
}

// MaxFlows is the kernel flow map's size (DefaultMaxFlows unless set):
// the mirror holds at most that many flows.
func (s *Source) MaxFlows() int { return s.maxFlows }

// Close detaches every program and releases the maps; Run does it when it
// returns. It may be called more than once.
func (s *Source) Close() error {
	s.closeOnce.Do(s.closeAll)
	return nil
}

// closeAll releases links, programs and maps.
func (s *Source) closeAll() {
	s.any.close()
	for _, lk := range s.links {
		_ = lk.Close()
	}
	s.links = nil
	if s.rd != nil {
		_ = s.rd.Close()
	}
	if s.attr != nil {
		s.attr.Close()
	}
	if s.tc != nil {
		s.tc.Close()
	}
	if s.watch != nil {
		s.watch.close()
	}
}
