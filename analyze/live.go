package analyze

import (
	"iter"
	"maps"
	"net/netip"
	"slices"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// What a live capture asks of the Auditor while flows stream in: a report
// now (Snapshot) without a list of the flows so far, and addresses the
// interface gained (AddHosts).

// Snapshot returns the report as if the flows active yields (a live
// capture's open flows, capture.Progress.ActiveFlows; nil for none)
// finished now, with stats as the capture's evidence so far. The Auditor
// is not changed: later Add, Snapshot and Report calls see only the flows
// added. Its cost is bounded by what the Auditor holds (its tally, bounded
// by its options: docs/limits.md) plus the active flows, not by the
// number of flows added so far; except while it infers the gateway
// addresses (KeepsFlows), when it reads again every flow it holds. Like
// every Auditor method it must not run concurrently with another.
func (a *Auditor) Snapshot(stats capture.Stats, active iter.Seq[*flow.Flow]) *Report {
	if active == nil {
		active = func(func(*flow.Flow) bool) {}
	}
	if a.infer {
		all := concatFlows(a.heldFlows(), active)
		b := a.withHosts(InferHosts(all))
		for f := range all {
			b.t.add(b, f)
		}
		return b.report(stats)
	}
	b := *a
	b.t = a.t.fork()
	for f := range active {
		b.t.add(&b, f)
	}
	return b.report(stats)
}

// AddHosts adds the addresses of d (a live capture's interface gained
// one; d is the decision with every address found so far, ResolveHosts)
// for the flows added from now on: flows added before are not audited
// again (on a live interface an address carries no traffic before it is
// added). The report's provenance becomes d's. An Auditor that was
// inferring its addresses stops: the flows it held are audited with the
// addresses it now has. Addresses it has already are ignored.
func (a *Auditor) AddHosts(d capture.HostsDecision) {
	var all []netip.Addr
	if !a.infer {
		all = slices.Clone(a.hosts.Addrs)
	}
	added := false
	for _, h := range d.Addrs {
		h = h.Unmap()
		if !h.IsValid() || slices.Contains(all, h) {
			continue
		}
		all = append(all, h)
		added = true
	}
	if !added {
		return
	}
	d.Addrs = all
	a.setHosts(d)
	if a.infer {
		a.infer = false
		for f := range a.heldFlows() {
			a.t.add(a, f)
		}
		a.held, a.heldPack = nil, nil
	}
}

// concatFlows yields the flows of each sequence in turn.
func concatFlows(seqs ...iter.Seq[*flow.Flow]) iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		for _, seq := range seqs {
			for f := range seq {
				if !yield(f) {
					return
				}
			}
		}
	}
}

// fork copies the tally so that flows added to the copy leave t as it
// was: clone (what a report reads) plus what adding changes, the flows
// awaiting an answer and the scanner test's source table. Its cost is
// the tally's size, which its options bound.
func (t *tally) fork() *tally {
	c := t.clone()
	c.awaiting = slices.Clone(t.awaiting)
	c.awaitPack = t.awaitPack.Clone()
	c.srcs = t.srcs.clone()
	return c
}

// clone copies the source table; what held flows share stays shared
// (never changed in place).
func (s *sourceTable) clone() *sourceTable {
	c := *s
	c.idx = maps.Clone(s.idx)
	c.recs = slices.Clone(s.recs)
	c.freeRecs = slices.Clone(s.freeRecs)
	c.held = slices.Clone(s.held)
	c.freeHeld = slices.Clone(s.freeHeld)
	c.pack = s.pack.Clone()
	return &c
}
