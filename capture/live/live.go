// Package live captures traffic on a network interface as it happens:
// AF_PACKET (a TPACKET_V3 ring, with an optional tcpdump-style filter and
// pcapng copy, through capture's packet path), or the eBPF backend of
// capture/ebpf, chosen by Open. Either way the result is one
// capture.Source. It also answers the questions a capture asks of the
// system: whether an interface exists and is up, and which addresses it
// has. The sockets are Linux's: elsewhere Supported and Open say so in one
// line.
package live

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/ebpf"
)

// AFPacketRingBytes is the size of the AF_PACKET backend's receive ring
// (64 blocks of 512 KiB), mapped besides the heap.
const AFPacketRingBytes = 32 << 20

// DefaultMaxFlows bounds the AF_PACKET backend's flow table when
// LiveOptions.MaxFlows is zero: half a replay's (flow.DefaultMaxFlows), so
// that a full table (38 MiB), the ring and the audit stay under 150 MiB
// under a flood of new flows (docs/PERFORMANCE.md, make bench-live). The
// eBPF backend's kernel map holds ebpf.DefaultMaxFlows.
const DefaultMaxFlows = 1 << 17

// ErrUnknownBackend is wrapped by Open's error for a backend it does not
// know.
var ErrUnknownBackend = errors.New("want auto, afpacket or ebpf")

// backendSource is what each backend opens: a Source whose Run releases
// everything when it returns, Close for one that is never run, and the
// bound on its concurrent flows.
type backendSource interface {
	capture.Source
	Close() error
	MaxFlows() int
}

// Source is a live capture on one interface, opened and attached by Open.
// Run captures until ctx is cancelled (an orderly stop: the backend's
// buffers are drained, every open flow is delivered, and Run returns nil)
// or the interface goes down or away (the flows so far are delivered and
// Run returns "capture on IF stopped: interface is down", errors.Is
// matching capture.ErrIfaceDown or capture.ErrNoInterface). Both backends
// behave alike. Run releases the socket or programs when it returns; Close
// does so for a Source that is never run. Run may be called once.
type Source struct {
	backend string
	flows   backendSource
	once    sync.Once // Run or Close, whichever comes first, owns the backend
	// drops is the local drop probe, nil when it could not start
	// (dropsWhy then says why, in one line).
	drops    *localDrops
	dropsWhy string
}

var _ capture.Source = (*Source)(nil)

// Open opens a live capture with the backend named: "ebpf", "afpacket",
// or "auto": eBPF (flows aggregated in the kernel: no per-packet copies,
// process attribution) when ebpf.Supported says this kernel and process
// can run it and neither a filter nor a pcap copy is asked for; otherwise
// AF_PACKET. On AnyIface too: both count a packet that crosses several
// interfaces once (AF_PACKET by a 2 ms duplicate filter, eBPF by where it
// counts: docs/ebpf.md), and eBPF copies no packets where AF_PACKET
// copies each once per interface. Backend says which one runs. Errors name
// the interface and say what is wrong in one line: missing interface,
// interface down, no permission, bad filter.
func Open(backend string, opts capture.LiveOptions) (*Source, error) {
	var (
		src backendSource
		err error
	)
	switch backend {
	case "auto":
		backend = "afpacket"
		if opts.Filter == "" && opts.WritePcap == "" && ebpf.Supported() == nil {
			backend = "ebpf"
		}
	case "ebpf", "afpacket":
	default:
		return nil, fmt.Errorf("backend %q: %w", backend, ErrUnknownBackend)
	}
	if backend == "ebpf" {
		src, err = ebpf.Open(opts)
	} else {
		src, err = OpenAFPacket(opts)
	}
	if err != nil {
		return nil, err
	}
	s := &Source{backend: backend, flows: src}
	// The probe watches the namespace the interface was found in: the
	// calling thread's, as the backend's socket or programs.
	if s.drops, err = startLocalDrops(); err != nil {
		s.dropsWhy = err.Error()
	}
	return s, nil
}

// Backend names the backend that runs: "afpacket" or "ebpf".
func (s *Source) Backend() string { return s.backend }

// MaxFlows is the bound on concurrent flows in effect: the AF_PACKET flow
// table's or the eBPF kernel map's size. What the capture holds is sized
// by it (a heap limit, for one).
func (s *Source) MaxFlows() int { return s.flows.MaxFlows() }

// Run implements capture.Source (see Source for its contract).
//
// The local drop probe Open started runs beside the backend: its records
// reach the flows through a stage between the backend and e's sink
// (dropStage), which sets Flow.LocalDrop on the flows whose packets this
// host dropped and delivers the attempts it dropped on output as flows of
// their own; its counters join the statistics (Stats.LocalDrops). Without
// the probe, the statistics carry one warning saying why local drops are
// not visible.
func (s *Source) Run(ctx context.Context, e *capture.Emitter) (capture.Stats, error) {
	s.once.Do(func() {})
	if s.drops == nil {
		st, err := s.flows.Run(ctx, e)
		st.Warnings = append(st.Warnings, noDropsWarning(s.dropsWhy))
		return st, err
	}
	defer s.drops.Close()
	stage := newDropStage(s.drops, e, s.drops.rule)
	stop := context.AfterFunc(ctx, func() { stage.final.Store(true) })
	defer stop()
	st, err := s.flows.Run(ctx, e.WithSink(stage))
	stage.finish(&st)
	return st, err
}

// noDropsWarning is the one line a capture without the drop probe carries.
func noDropsWarning(why string) string {
	return why + " (a flow this gateway's own firewall drops may read never-seen or unanswered; docs/local-drops.md)"
}

// Close releases the socket or programs of a Source that was never run;
// after Run it does nothing.
func (s *Source) Close() error {
	var err error
	s.once.Do(func() {
		err = s.flows.Close()
		if s.drops != nil {
			_ = s.drops.Close()
		}
	})
	return err
}
