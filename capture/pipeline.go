package capture

import (
	"context"
	"iter"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// The one pipeline: a Source produces finished flows and hands each to an
// Emitter, which names it and passes it to a Sink. Every source (capture
// files, AF_PACKET, eBPF) goes through the same Emitter, so a flow gets its
// names in one place, once, whatever produced it.
//
//	Source.Run(ctx, e) --> Emitter.Flow (names) --> Sink.Flow
//	                   --> Emitter.Progress (names the open flows) --> Sink.Progress

// Source produces flows: a packet source (Packets over capture files or
// AF_PACKET) runs the flow table; the eBPF source reads flows aggregated in
// the kernel.
//
// Run delivers every finished flow exactly once through e.Flow, calls
// e.Progress when e.ProgressDue says so, and returns when its input ends
// (files), when ctx is cancelled (live: an orderly stop, every open flow
// finished and delivered, nil error), or on an error that ended the
// capture (a damaged file, an interface gone): the flows so far are then
// delivered and the statistics returned with the error. e.Flow and
// e.Progress are called only from the goroutine that called Run; e's
// naming methods (ObserveDNS, ServerName) may be called from any
// goroutine. Run returning is the end of the capture: there is nothing to
// wait for or to stop afterwards.
type Source interface {
	Run(ctx context.Context, e *Emitter) (Stats, error)
}

// Sink consumes what a Source produces: analyze.Auditor, a session writer
// and the live view are sinks (the capture command combines them with
// Tee). Both methods are called from the goroutine running the Source.
type Sink interface {
	// Flow receives one finished flow, with its names. The *Flow and what
	// it points to are reused after the call returns: copy what must be
	// kept (flow.Flow.Clone).
	Flow(f *flow.Flow)
	// Progress receives the running counts about every
	// Options.ProgressEvery; p.ActiveFlows is valid only during the call.
	Progress(p Progress)
}

// Options configures Run and Replay.
type Options struct {
	// ProgressEvery is how often (wall time) the sink receives Progress;
	// 0 means one second.
	ProgressEvery time.Duration
	// Names names flows from the DNS answers to the queries seen and
	// fills Flow.ServerName from TLS SNI and HTTP Host. Nil: Run makes
	// one, unless NoNames is set.
	Names   *naming.Cache
	NoNames bool
}

// Progress is a running count for progress displays and live views.
type Progress struct {
	// Stats are the statistics so far: Packets, Bytes, Flows (created so
	// far), Start and End (first and latest packet), KernelDrops for live
	// sources, Backend and Iface. Stats that are known only at the end
	// (warnings, evictions) may be missing.
	Stats Stats
	// Active is the number of flows still open.
	Active int
	// InputRead and InputSize are the bytes of the input files read so far
	// and their total size (zero for live sources).
	InputRead, InputSize int64
	// ActiveFlows yields each flow still open, named, as it would be
	// reported if it finished now. It is valid only during the Progress
	// call, and the *Flow it yields is reused between iterations. Nil when
	// the source cannot list its open flows.
	ActiveFlows iter.Seq[*flow.Flow]
}

// Run runs src, delivering its flows, named, to sink: see Source for when
// it returns. It is the one way flows reach a consumer.
func Run(ctx context.Context, src Source, sink Sink, opts Options) (Stats, error) {
	return src.Run(ctx, NewEmitter(sink, opts))
}

// Emitter is the one place flows get their names and reach the sink. A
// Source receives one from Run. Its Flow, Progress and ProgressDue
// methods must be called from the goroutine running the Source; the
// naming methods are safe from any goroutine (naming.Cache locks).
type Emitter struct {
	sink  Sink
	names *naming.Cache // nil: no naming
	every time.Duration
	next  time.Time
}

// NewEmitter returns an Emitter delivering to sink, configured by opts.
// Run makes one; sources and tests that drive a Source directly may too.
func NewEmitter(sink Sink, opts Options) *Emitter {
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	e := &Emitter{sink: sink, every: opts.ProgressEvery}
	e.next = time.Now().Add(e.every)
	if !opts.NoNames {
		e.names = opts.Names
		if e.names == nil {
			e.names = naming.NewCache()
		}
	}
	return e
}

// WithSink returns an Emitter that names flows as e does (same name cache,
// same progress pacing) but delivers to s. It is the seam for a stage that
// must see every named flow before the consumer: the live source's local
// drop records (issue 13) attach to flows this way, s forwarding to the
// sink of e (Sink). The two Emitters share nothing else.
func (e *Emitter) WithSink(s Sink) *Emitter {
	c := *e
	c.sink = s
	return &c
}

// Sink returns the sink e delivers to.
func (e *Emitter) Sink() Sink { return e.sink }

// Naming reports whether flows are named: when it is false, ObserveDNS and
// ServerName do nothing, and sources may skip collecting payloads.
func (e *Emitter) Naming() bool { return e.names != nil }

// Flow names f (the DNS names of each side valid at its start) and hands
// it to the sink. f is the source's: the sink may not keep it.
func (e *Emitter) Flow(f *flow.Flow) {
	e.name(f)
	e.sink.Flow(f)
}

// name sets the names of both sides of f. Only DNS names them: f's
// ServerName stays apart, since only the audit knows whether the gateway
// opened the flow, the one case where the name it asked for names the
// server (docs/naming.md).
func (e *Emitter) name(f *flow.Flow) {
	if e.names == nil {
		return
	}
	ts := f.Start.UnixNano()
	f.OrigNames = e.names.Names(f.Orig.Addr(), ts)
	f.RespNames = e.names.Names(f.Resp.Addr(), ts)
}

// ObserveDNS feeds one DNS message seen at ts (Unix nanoseconds) to the
// name cache, which pairs queries and answers by tr. Over TCP msg starts
// with the 2-byte length prefix; a message longer than what was captured is
// skipped. A malformed or unsolicited answer is simply not used.
func (e *Emitter) ObserveDNS(msg []byte, ts int64, tr naming.Transport) {
	if e.names == nil {
		return
	}
	if tr.TCP {
		if len(msg) < 2 {
			return
		}
		n := int(msg[0])<<8 | int(msg[1])
		if n > len(msg)-2 {
			return
		}
		msg = msg[2 : 2+n]
	}
	_ = e.names.ObserveDNS(msg, ts, tr)
}

// ServerName returns the server name a flow's first originator payload
// asks for (TLS ClientHello SNI, HTTP Host), interned, or "" when it names
// none (or naming is off). It keeps nothing of payload.
func (e *Emitter) ServerName(payload []byte) string {
	if e.names == nil {
		return ""
	}
	b, ok := naming.ServerName(payload)
	if !ok {
		return ""
	}
	return e.names.Intern(b)
}

// ProgressDue reports whether a Progress is due (ProgressEvery has passed
// since the last one), and if so starts the next interval: a source calls
// it at points where its state is consistent, and builds and sends a
// Progress only when it says true.
func (e *Emitter) ProgressDue() bool {
	now := time.Now()
	if now.Before(e.next) {
		return false
	}
	e.next = now.Add(e.every)
	return true
}

// Progress hands p to the sink, with p.ActiveFlows naming each flow it
// yields.
func (e *Emitter) Progress(p Progress) {
	if active := p.ActiveFlows; active != nil && e.names != nil {
		p.ActiveFlows = func(yield func(*flow.Flow) bool) {
			for f := range active {
				e.name(f)
				if !yield(f) {
					return
				}
			}
		}
	}
	e.sink.Progress(p)
}
