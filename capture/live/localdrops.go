package live

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// The local drop stage: the drop probe's records (what the capture host's
// own kernel dropped, capture/ebpf.DropProbe) joined to the flows of either
// backend, between the backend and the sink (capture.Emitter.WithSink).
// A flow the capture saw gets Flow.LocalDrop when packets of it were
// dropped here (an inbound SYN the gateway's input chain dropped); an
// attempt dropped on output, of which nothing reached the wire, becomes a
// flow of its own (outcome flow.NotSent). docs/local-drops.md.

// dropReader is what the stage needs of a running drop probe.
type dropReader interface {
	Drops() ([]capture.LocalDrop, error)
	Stats() (capture.LocalDropStats, error)
	Close() error
}

// Timing of the stage. drainEvery: how often the probe's map is read (on
// a flow or a progress report, whichever comes first). A record of an
// attempt that never left becomes a flow once no drop of it came for
// settleFirst (a TCP SYN or an ICMP echo request: only the originator
// sends those, so no flow of the capture can be waiting for it), or for
// settleOther (a UDP datagram: the flow table's UDP timeout plus a margin,
// so that a reply dropped on output finds the captured request first).
// claimSlack: a record claims a flow if it dropped a packet no earlier
// than this before the flow started.
const (
	drainEvery  = time.Second
	settleFirst = 5 * time.Second
	settleOther = flow.DefaultUDPTimeout + 10*time.Second
	claimSlack  = 2 * time.Second
)

// synthUIDBase numbers the flows the stage makes, far above any flow
// table's, so that their UIDs never meet a captured flow's.
const synthUIDBase = 1 << 62

// dropKey is one record of the probe (it keeps one per key).
type dropKey struct {
	proto    uint8
	src, dst netip.AddrPort
	dir      capture.DropDirection
	reason   string
}

// tupleKey finds the records of one direction of a flow: comparable, so
// the lookup per flow allocates nothing.
type tupleKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

// dropRec is the stage's copy of one record: the probe's cumulative
// counts, and how many of its packets a flow took already (never
// delivered twice).
type dropRec struct {
	d    capture.LocalDrop
	used uint64
	gen  uint64
	rule string // named once, when a flow first takes the record
}

func (r *dropRec) unused() uint64 {
	if r.d.Packets > r.used {
		return r.d.Packets - r.used
	}
	return 0
}

// dropStage is a capture.Sink between a live backend and the pipeline's
// sink. Its Flow and Progress run on the source's goroutine; only final
// is set from elsewhere.
type dropStage struct {
	probe dropReader
	e     *capture.Emitter // the pipeline's: synthesized flows are named there
	next  capture.Sink
	rules func(capture.LocalDrop) string
	now   func() time.Time

	recs    map[dropKey]*dropRec
	byTup   map[tupleKey][]*dropRec
	gen     uint64
	last    time.Time
	final   atomic.Bool // the capture is stopping: read the map once more
	drained bool        // read after final was set

	stats   *capture.LocalDropStats // the probe's counters as of the last read
	synth   uint64
	nextUID uint64
	readErr string
	ld      flow.LocalDrop // the one a flow carries during Flow
	scratch flow.Flow
}

func newDropStage(p dropReader, e *capture.Emitter, rules func(capture.LocalDrop) string) *dropStage {
	return &dropStage{probe: p, e: e, next: e.Sink(), rules: rules, now: time.Now,
		recs: map[dropKey]*dropRec{}, byTup: map[tupleKey][]*dropRec{}}
}

// Flow gives f the local drop of its packets, if the probe recorded one,
// and hands it on. f is restored before returning: it is the backend's.
func (s *dropStage) Flow(f *flow.Flow) {
	s.maybeDrain()
	prev := f.LocalDrop
	if prev == nil {
		if ld, ok := s.claim(f, true); ok {
			s.ld = ld
			f.LocalDrop = &s.ld
		}
	}
	s.next.Flow(f)
	f.LocalDrop = prev
}

// Progress hands p on with the local drops so far: open flows show theirs
// (without taking them), attempts dropped on output that are not yet
// flows show as open ones, and the stats carry the probe's counts.
func (s *dropStage) Progress(p capture.Progress) {
	s.maybeDrain()
	p.Stats.LocalDrops = s.stats
	p.Stats.Flows += s.synth
	pending := s.pendingSynth()
	p.Active += pending
	if active := p.ActiveFlows; active != nil {
		p.ActiveFlows = func(yield func(*flow.Flow) bool) {
			for f := range active {
				prev := f.LocalDrop
				if ld, ok := s.claim(f, false); ok && prev == nil {
					s.ld = ld
					f.LocalDrop = &s.ld
				}
				more := yield(f)
				f.LocalDrop = prev
				if !more {
					return
				}
			}
			for _, r := range s.recs {
				if s.synthesizable(r) {
					s.flowOf(r, true)
					if !yield(&s.scratch) {
						return
					}
				}
			}
		}
	}
	s.next.Progress(p)
}

// maybeDrain reads the probe when drainEvery has passed, or once when the
// capture is stopping (the backend then delivers its last flows).
func (s *dropStage) maybeDrain() {
	now := s.now()
	switch {
	case s.final.Load() && !s.drained:
		s.drained = true
	case now.Sub(s.last) < drainEvery:
		return
	}
	s.drain(now, false)
}

// drain reads every record from the probe, then delivers as flows the
// attempts dropped on output that have settled (all of them when final).
func (s *dropStage) drain(now time.Time, final bool) {
	s.last = now
	ds, err := s.probe.Drops()
	if err != nil && s.readErr == "" {
		s.readErr = "read local drops: " + err.Error()
	}
	// The counters (a few hundred map reads) are read with the records,
	// not on every progress report.
	if st, err := s.probe.Stats(); err == nil {
		s.stats = &st
	}
	s.gen++
	for i := range ds {
		s.merge(&ds[i])
	}
	// Records the probe let go (its copy is bounded) go here too.
	for k, r := range s.recs {
		if r.gen != s.gen {
			s.forget(k, r)
		}
	}
	for _, r := range s.recs {
		if s.synthesizable(r) && (final || now.Sub(r.d.Last) >= settle(&r.d)) {
			s.flowOf(r, false)
			r.used = r.d.Packets
			s.synth++
			s.e.Flow(&s.scratch)
		}
	}
}

// merge takes one record as the probe last read it.
func (s *dropStage) merge(d *capture.LocalDrop) {
	k := dropKey{proto: d.Proto, src: d.Src, dst: d.Dst, dir: d.Direction, reason: d.Reason}
	r := s.recs[k]
	if r == nil {
		r = &dropRec{}
		s.recs[k] = r
		tk := tupleKey{d.Proto, d.Src, d.Dst}
		s.byTup[tk] = append(s.byTup[tk], r)
	}
	r.d = *d
	r.gen = s.gen
}

// forget drops a record from both maps.
func (s *dropStage) forget(k dropKey, r *dropRec) {
	delete(s.recs, k)
	tk := tupleKey{k.proto, k.src, k.dst}
	list := s.byTup[tk]
	for i, x := range list {
		if x == r {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byTup, tk)
	} else {
		s.byTup[tk] = list
	}
}

// claim finds the records of f's packets, either way, with packets no
// flow took yet, dropped no earlier than f's start (less claimSlack).
// The one with the most such packets names the hook and reason; take
// marks them all taken.
func (s *dropStage) claim(f *flow.Flow, take bool) (flow.LocalDrop, bool) {
	var best *dropRec
	from := f.Start.Add(-claimSlack)
	for _, tk := range [2]tupleKey{{f.Proto, f.Orig, f.Resp}, {f.Proto, f.Resp, f.Orig}} {
		for _, r := range s.byTup[tk] {
			if r.unused() == 0 || r.d.Last.Before(from) {
				continue
			}
			if best == nil || r.unused() > best.unused() {
				best = r
			}
		}
	}
	if best == nil {
		return flow.LocalDrop{}, false
	}
	ld := flow.LocalDrop{Hook: best.d.Direction.String(), Reason: best.d.Reason, Packets: best.unused(), Rule: s.ruleOf(best)}
	if take {
		for _, tk := range [2]tupleKey{{f.Proto, f.Orig, f.Resp}, {f.Proto, f.Resp, f.Orig}} {
			for _, r := range s.byTup[tk] {
				if !r.d.Last.Before(from) {
					r.used = r.d.Packets
				}
			}
		}
	}
	return ld, true
}

// ruleOf names the firewall rule of a netfilter drop, once per record.
func (s *dropStage) ruleOf(r *dropRec) string {
	if r.d.Reason != "netfilter-drop" {
		return ""
	}
	if r.rule == "" && s.rules != nil {
		r.rule = s.rules(r.d)
	}
	return r.rule
}

// synthesizable says whether r is an attempt dropped on output that no
// flow took: a TCP SYN (without ACK), a UDP datagram, or an ICMP echo
// request. Other packets dropped on output (replies, segments of a
// connection) belong to flows the capture saw, or only count.
func (s *dropStage) synthesizable(r *dropRec) bool {
	d := &r.d
	if d.Direction != capture.DropOutput || r.unused() == 0 {
		return false
	}
	switch d.Proto {
	case flow.ProtoTCP:
		const syn, ack = 0x02, 0x10
		return d.TCPFlags&syn != 0 && d.TCPFlags&ack == 0
	case flow.ProtoUDP:
		return true
	case flow.ProtoICMP:
		return d.Src.Port() == 8
	case flow.ProtoICMPv6:
		return d.Src.Port() == 128
	}
	return false
}

// settle is how long an attempt dropped on output waits to become a flow.
func settle(d *capture.LocalDrop) time.Duration {
	if d.Proto == flow.ProtoUDP {
		return settleOther
	}
	return settleFirst
}

// pendingSynth counts the attempts that will become flows.
func (s *dropStage) pendingSynth() int {
	n := 0
	for _, r := range s.recs {
		if s.synthesizable(r) {
			n++
		}
	}
	return n
}

// flowOf makes, in s.scratch, the flow of an attempt dropped on output:
// the gateway's process opened it, the kernel dropped its packets, none
// reached the wire. open: still waiting to settle (a progress report).
func (s *dropStage) flowOf(r *dropRec, open bool) {
	d := &r.d
	f := &s.scratch
	*f = flow.Flow{Proto: d.Proto, Orig: d.Src, Resp: d.Dst, Start: d.First, End: d.Last,
		OrigPkts: r.unused(), State: flow.StateS0, Outcome: flow.NotSent, Attempts: int(r.unused()),
		Process: d.Process, Open: open}
	if !open {
		s.nextUID++
		f.UID = flow.UID(synthUIDBase + s.nextUID)
	}
	s.ld = flow.LocalDrop{Hook: d.Direction.String(), Reason: d.Reason, Packets: r.unused(), Rule: s.ruleOf(r)}
	f.LocalDrop = &s.ld
}

// finish reads the probe a last time (after the backend's last flow),
// delivers every attempt dropped on output that is not a flow yet, and
// adds the probe's counts to st.
func (s *dropStage) finish(st *capture.Stats) {
	s.drain(s.now(), true)
	if ps, err := s.probe.Stats(); err == nil {
		st.LocalDrops = &ps
	} else if s.readErr == "" {
		s.readErr = "read local drop counters: " + err.Error()
	}
	st.Flows += s.synth
	if s.readErr != "" {
		st.Warnings = append(st.Warnings, s.readErr)
	}
}
