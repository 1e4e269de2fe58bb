//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// pollInterval is how often the kernel map is copied to user space, so a
// flow the LRU map evicts is still reported (with Flow.Evicted) as it was
// last read. ifaceCheckEvery is how often the poller asks whether the
// interface is still up (one ioctl): a capture on an interface set down or
// deleted ends within it, as an AF_PACKET one does.
const (
	pollInterval    = time.Second
	ifaceCheckEvery = 250 * time.Millisecond
)

// Live is a running eBPF capture on one interface. It implements
// capture.Live.
type Live struct {
	iface string
	tc    *tcObjects
	attr  *attrObjects
	// links holds every attachment: a link.Link dropped to the garbage
	// collector detaches silently, so all are kept until Stop.
	links []link.Link
	rd    *ringbuf.Reader
	names *naming.Cache
	clock clock
	watch *ifWatch

	attribution string
	done        chan struct{} // closed by Stop
	ended       chan struct{} // closed when the interface went down or away
	endErr      error         // why the capture ended by itself
	wg          sync.WaitGroup

	mu     sync.Mutex
	mirror *mirror
	result *capture.Result
}

var _ capture.Live = (*Live)(nil)

// Start attaches the flow programs (tcx ingress and egress) to
// opts.Iface in the caller's network namespace, and the attribution hooks
// to the cgroup2 root when they load (Stats.Attribution says whether they
// did). The capture runs until Stop; ctx only bounds the start. Packets
// are not kept, so opts.WritePcap and opts.Filter are refused.
func Start(ctx context.Context, opts capture.LiveOptions) (capture.Live, error) {
	if opts.WritePcap != "" {
		return nil, errors.New("ebpf backend keeps no packets: --write-pcap needs the afpacket backend")
	}
	if opts.Filter != "" {
		return nil, errors.New("ebpf backend has no capture filter: --filter needs the afpacket backend")
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	ifc, err := net.InterfaceByName(opts.Iface)
	if err != nil {
		return nil, fmt.Errorf("ebpf capture on %q: %w", opts.Iface, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tc, err := loadTC(opts.MaxFlows)
	if err != nil {
		return nil, err
	}
	l := &Live{iface: opts.Iface, tc: tc, names: naming.NewCache(), clock: bootClock(),
		watch: newIfWatch(opts.Iface, ifc.Index),
		done:  make(chan struct{}), ended: make(chan struct{}), mirror: newMirror()}
	fail := func(err error) (capture.Live, error) {
		l.closeAll()
		return nil, err
	}
	for _, a := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
		p := tc.Ingress
		if a == ebpf.AttachTCXEgress {
			p = tc.Egress
		}
		lk, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: p, Attach: a})
		if err != nil {
			return fail(fmt.Errorf("attach %s to %s: %w", a, opts.Iface, err))
		}
		l.links = append(l.links, lk)
	}
	l.attribution = AttributionOK
	if attr, err := loadAttr(tc); err != nil {
		l.attribution = "unavailable: " + err.Error()
	} else if links, err := attachCgroupHooks(attr); err != nil {
		attr.Close()
		l.attribution = "unavailable: " + err.Error()
	} else {
		l.attr = attr
		l.links = append(l.links, links...)
	}
	if l.rd, err = ringbuf.NewReader(tc.Payloads); err != nil {
		return fail(fmt.Errorf("open payload ring buffer: %w", err))
	}
	l.wg.Add(2)
	go l.readPayloads()
	go l.poll()
	return l, nil
}

// bootClock measures CLOCK_BOOTTIME's offset from wall time.
func bootClock() clock {
	var ts unix.Timespec
	before := time.Now()
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return clock{offset: before.UnixNano() - ts.Nano()}
}

// Backend implements capture.Live.
func (l *Live) Backend() string { return "ebpf" }

// Done is closed when the capture ended by itself: its interface was set
// down or deleted. Stop then returns the flows gathered and an error
// saying so, in the AF_PACKET backend's words ("capture on eth0 stopped:
// interface is down"; errors.Is matches capture.ErrIfaceDown or
// capture.ErrNoInterface).
func (l *Live) Done() <-chan struct{} { return l.ended }

// poll checks the interface every ifaceCheckEvery and copies the kernel
// map to user space every pollInterval. It runs beside the packet path:
// the TC programs pay nothing for either.
func (l *Live) poll() {
	defer l.wg.Done()
	t := time.NewTicker(ifaceCheckEvery)
	defer t.Stop()
	lastRead := time.Now()
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			why := l.watch.state()
			l.mu.Lock()
			if why == nil && l.watch.ctl < 0 && l.ifaceGone() {
				why = capture.ErrNoInterface
			}
			ending := why != nil && l.endErr == nil
			// The map is read at its usual pace, and at once when the
			// capture ends, so a Snapshot meanwhile is up to date.
			if ending || now.Sub(lastRead) >= pollInterval-ifaceCheckEvery/2 {
				_ = l.mirror.refresh(l.tc.Flows)
				lastRead = now
			}
			if ending {
				l.endErr = stoppedErr(l.iface, why)
			}
			l.mu.Unlock()
			if ending {
				close(l.ended)
			}
		}
	}
}

// ifaceGone reports whether the ingress link lost its device (the kernel
// detaches tcx links from a deleted device): the fallback when the control
// socket of l.watch could not be opened. Called with mu held.
func (l *Live) ifaceGone() bool {
	if len(l.links) == 0 {
		return false
	}
	info, err := l.links[0].Info()
	if err != nil {
		return false
	}
	tcx := info.TCX()
	return tcx != nil && tcx.Ifindex == 0
}

// readPayloads feeds ring-buffer payloads to passive naming until Stop
// flushes the reader and what was left is read.
func (l *Live) readPayloads() {
	defer l.wg.Done()
	var rec ringbuf.Record
	for {
		if err := l.rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return
			}
			select {
			case <-l.done:
				return // drained after Stop
			default:
				continue
			}
		}
		l.payload(rec.RawSample)
	}
}

// Snapshot implements capture.Live: every flow so far, finished or not.
func (l *Live) Snapshot() capture.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.result != nil {
		return *l.result
	}
	err := l.mirror.refresh(l.tc.Flows)
	r := l.build()
	if err != nil {
		r.Stats.Warnings = append(r.Stats.Warnings, "read kernel flow map: "+err.Error())
	}
	return r
}

// Stop implements capture.Live: it detaches every program, reads the map
// one last time and returns all flows. Calling it again returns the same
// result.
func (l *Live) Stop() (*capture.Result, error) {
	l.mu.Lock()
	if l.result != nil {
		r := l.result
		l.mu.Unlock()
		return r, nil
	}
	// Detach first, so the final read sees everything the kernel counted.
	// Under mu: the poller inspects the links.
	for _, lk := range l.links {
		_ = lk.Close()
	}
	l.links = nil
	l.mu.Unlock()
	close(l.done)
	_ = l.rd.Flush() // the reader returns what is left, then ErrFlushed
	l.wg.Wait()

	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.mirror.refresh(l.tc.Flows)
	r := l.build()
	l.result = &r
	l.closeAll()
	if err != nil {
		return l.result, fmt.Errorf("read kernel flow map: %w", err)
	}
	return l.result, l.endErr
}

// closeAll releases links, programs and maps.
func (l *Live) closeAll() {
	for _, lk := range l.links {
		_ = lk.Close()
	}
	l.links = nil
	if l.rd != nil {
		_ = l.rd.Close()
	}
	if l.attr != nil {
		l.attr.Close()
	}
	if l.tc != nil {
		l.tc.Close()
	}
	if l.watch != nil {
		l.watch.close()
	}
}
