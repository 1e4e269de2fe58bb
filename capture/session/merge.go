package session

import (
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Merged is several sessions (the gateways of a cluster, or several runs
// of one gateway) read as one capture: Flows iterates over the flows of
// every session, and Stats sums their statistics once Flows has run.
type Merged struct {
	srcs  []Source
	infos []*Info
	nodes []string
	// stats are the sums of the sessions' statistics; the flows counted
	// twice are taken off by Flows (dups).
	stats capture.Stats
	dups  map[string]int
	err   error
}

// Merge prepares the merge of sessions, in the order given. Every flow's
// Node is set to the name of the session that recorded it (NodeName),
// counters are summed, the time span is the union, warnings and read
// errors are kept, prefixed by node when there are several sessions.
//
// When two sessions of one node overlap in time (their bounds or their
// packets' span), a flow both recorded (same protocol, addresses, ports
// and start, to the nanosecond) is counted once (the finished copy if one
// was still open) and a warning says so. This is the only place that
// keeps something per flow: the key of each flow of a session that a
// later session of its node overlaps, and those of its flows still open,
// until the end. Sessions of different nodes, and sessions of one node
// that do not overlap, cost nothing per flow.
func Merge(sessions ...Source) *Merged {
	m := &Merged{srcs: sessions, dups: map[string]int{}}
	for i, s := range sessions {
		m.infos = append(m.infos, s.Info())
		m.nodes = append(m.nodes, NodeName(m.infos[i], i))
	}
	m.sumStats()
	return m
}

// NodeName is the name Merge gives the i-th (0-based) session's flows:
// its node, else "session-N", N counting from 1.
func NodeName(info *Info, i int) string {
	if info.Node != "" {
		return info.Node
	}
	return fmt.Sprintf("session-%d", i+1)
}

// Nodes are the node names of the sessions, in order.
func (m *Merged) Nodes() []string { return m.nodes }

// Flows iterates over the flows of every session, session by session,
// each in the order it was recorded; the open copies of flows that a
// later session of the same node may have finished come last. Each flow
// is valid until the next. A session that cannot be read ends the
// iteration: Err says why. Iterate once: Stats counts the flows found
// twice as it goes.
func (m *Merged) Flows() iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		m.err = nil
		o := newOverlaps(m)
		var g flow.Flow
		for i, s := range m.srcs {
			for f := range s.Flows() {
				g = *f // the source's own flow stays as it is
				g.Node = m.nodes[i]
				if o.skip(i, &g) {
					continue
				}
				if !yield(&g) {
					return
				}
			}
			if err := s.Err(); err != nil {
				m.err = err
				return
			}
		}
		for f := range o.deferred() {
			if !yield(f) {
				return
			}
		}
		m.dups = o.dups
	}
}

// Err is the error that ended Flows early, if any.
func (m *Merged) Err() error { return m.err }

// Stats are the merged statistics: after Flows has run, with the flows
// found twice counted once and a warning per node that had any.
func (m *Merged) Stats() capture.Stats {
	st := m.stats
	st.Warnings = slices.Clone(st.Warnings)
	for _, node := range slices.Sorted(maps.Keys(m.dups)) {
		d := m.dups[node]
		st.Flows -= min(st.Flows, uint64(d))
		st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d flow(s) recorded by two sessions of this node (their spans overlap) were counted once; packet and byte totals count the overlap twice", node, d))
	}
	return st
}

// sumStats adds up the sessions' statistics, each as its node's.
func (m *Merged) sumStats() {
	st := &m.stats
	single := len(m.infos) == 1
	prefix := func(node string) string {
		if single {
			return ""
		}
		return node + ": "
	}
	backends := map[string]bool{}
	var ifaces, attrib []string
	for i, info := range m.infos {
		node, ss := m.nodes[i], &info.Stats
		backends[ss.Backend] = true
		if ss.Iface != "" && !slices.Contains(ifaces, node+":"+ss.Iface) {
			ifaces = append(ifaces, node+":"+ss.Iface)
		}
		if ss.Attribution != "" && !slices.Contains(attrib, prefix(node)+ss.Attribution) {
			attrib = append(attrib, prefix(node)+ss.Attribution)
		}
		addCounts(st, ss, single, node)
		for _, e := range ss.ReadErrors {
			st.ReadErrors = append(st.ReadErrors, prefix(node)+e)
		}
		for _, w := range ss.Warnings {
			st.Warnings = append(st.Warnings, prefix(node)+w)
		}
	}
	st.Backend = strings.Join(slices.Sorted(maps.Keys(backends)), "+")
	st.Iface = strings.Join(ifaces, ",")
	if single {
		st.Iface = m.infos[0].Stats.Iface
	}
	st.Attribution = strings.Join(attrib, "; ")
}

// addCounts adds one session's files, span and counters to st.
func addCounts(st, ss *capture.Stats, single bool, node string) {
	st.Files = append(st.Files, ss.Files...)
	if !single && !ss.Start.IsZero() {
		st.Spans = append(st.Spans, capture.Span{Node: node, Start: ss.Start, End: ss.End})
	}
	if !ss.Start.IsZero() && (st.Start.IsZero() || ss.Start.Before(st.Start)) {
		st.Start = ss.Start
	}
	if ss.End.After(st.End) {
		st.End = ss.End
	}
	st.Packets += ss.Packets
	st.Bytes += ss.Bytes
	st.Flows += ss.Flows
	st.Undecodable += ss.Undecodable
	st.IfaceDrops += ss.IfaceDrops
	st.KernelDrops += ss.KernelDrops
	st.MissedBytes += ss.MissedBytes
	st.Evicted += ss.Evicted
	st.Interrupted = st.Interrupted || ss.Interrupted
	if ss.LocalDrops != nil {
		if st.LocalDrops == nil {
			st.LocalDrops = &capture.LocalDropStats{}
		}
		st.LocalDrops.Add(ss.LocalDrops)
	}
}

// flowKey identifies one flow across two sessions of the same node: a
// flow table never starts two flows of one 5-tuple at the same instant.
type flowKey struct {
	proto      uint8
	orig, resp netip.AddrPort
	start      int64
}

func keyOf(f *flow.Flow) flowKey {
	return flowKey{f.Proto, f.Orig, f.Resp, f.Start.UnixNano()}
}

// span is the stretch of time a session covers: the union of its own
// bounds and its packets' (either may be missing); unbounded when neither
// says.
type span struct{ lo, hi time.Time }

func spanOf(info *Info) span {
	var s span
	for _, t := range []time.Time{info.Start, info.Stats.Start} {
		if !t.IsZero() && (s.lo.IsZero() || t.Before(s.lo)) {
			s.lo = t
		}
	}
	for _, t := range []time.Time{info.End, info.Stats.End} {
		if t.After(s.hi) {
			s.hi = t
		}
	}
	if s.lo.IsZero() || s.hi.IsZero() {
		return span{} // unknown: everything may overlap
	}
	return s
}

// overlap reports whether a and b meet (an unknown span meets any).
func overlap(a, b span) bool {
	if a.lo.IsZero() || b.lo.IsZero() {
		return true
	}
	return !a.hi.Before(b.lo) && !b.hi.Before(a.lo)
}
