package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// finishRequirement turns evidence into the requirement's verdict, with
// the flows seen from one side only judged as the capture's coverage
// allows (docs/report.md "One-sided captures").
func finishRequirement(req *Requirement, r *rule, ev *evidence, otherPeer int, site *catalog.Site, cov *Coverage) {
	s := cov.sidesFor(r.dir)
	ev.trimTimeline()
	req.Counts = ev.counts.resolved(s)
	req.Peers, req.PeersOmitted = ev.peerList(site, s)
	req.PeersFolded, req.FoldedCounts = ev.folded(s)
	req.Nodes, req.ByNode = ev.nodeList(s)
	first, last := ev.span(s)
	req.FirstSeen, req.LastSeen = utcPtr(first), utcPtr(last)
	req.Timeline, req.TimelineOmitted = resolveTimeline(ev.timeline, s), ev.omitted
	req.OtherPeerFlows = otherPeer
	req.Reasons = ev.reasonList(s)
	req.Processes, req.ProcessFlowsOther = ev.procs.list(), ev.procs.other
	if req.TimelineOmitted > 0 {
		// The timeline shows every flow otherwise.
		req.Activity = ev.act.report(s)
	}
	if !r.applies {
		req.Status = NotApplicable
		return
	}
	c := req.Counts
	failed, remote := c.Failed(), ""
	if rs, worked := remoteSide(r, ev, s, site); rs != nil {
		req.RemoteSide = rs
		failed, remote = 0, remoteNote(req, worked)
	}
	switch {
	case c.Established > 0 && failed > 0:
		req.Status = Partial
	case c.Inconclusive > 0:
		req.Status = Inconclusive
	case c.Attempts == 0 && c.Pending > 0:
		// Tried, not judged: the end of the capture cut every attempt
		// off before its answer could come (the note says how much
		// longer to capture). Never seen would say nothing tried it.
		req.Status = Inconclusive
	case c.Attempts == 0 && s.origHidden:
		req.Status = Inconclusive
	case c.Attempts == 0:
		req.Status = NeverSeen
	case failed == 0:
		req.Status = OK
	default:
		req.Status = Blocked
	}
	req.Note = requirementNote(req, ev.counts, r.dir, s, remote, ev.pendingLeft)
	if (req.Status == Blocked || req.Status == Partial) && len(req.Reasons) > 0 {
		req.Reason = req.Reasons[0].Reason
		req.ReasonText = req.Reasons[0].Text
	}
}

// requirementNote explains what was not judged, and why: pending flows
// (with how much longer to capture: left, the most a pending attempt
// still needed), attempts the capture's missing side leaves inconclusive
// (raw: counts before resolution), attempts that side may hide, peers the
// remote-side rule explains.
func requirementNote(req *Requirement, raw Counts, d catalog.Direction, s sides, remote string, left time.Duration) string {
	var parts []string
	if req.Counts.Pending > 0 {
		parts = append(parts, pendingNote(req.Counts.Pending, req.Peers), longerHint(left))
	}
	if n := inconclusiveNote(raw, d, s); n != "" {
		parts = append(parts, n)
	}
	if s.origHidden && req.Status != Blocked && req.Status != Partial {
		if req.Counts.Attempts == 0 && req.Counts.Inconclusive == 0 {
			parts = append(parts, unseenNote(d))
		} else {
			parts = append(parts, hiddenNote(d))
		}
	}
	if remote != "" {
		parts = append(parts, remote)
	}
	return strings.Join(parts, "; ")
}

// span returns the first and last time of the attempts, with the
// provisional flows s makes attempts (or inconclusive ones).
func (e *evidence) span(s sides) (first, last time.Time) {
	first, last = e.first, e.last
	for p := provNoAnswer; p < numProv; p++ {
		if e.provFirst[p].IsZero() {
			continue
		}
		if o, inc := s.resolve(p); !inc && o == flow.Unknown {
			continue
		}
		if first.IsZero() || e.provFirst[p].Before(first) {
			first = e.provFirst[p]
		}
		if e.provLast[p].After(last) {
			last = e.provLast[p]
		}
	}
	return first, last
}

// resolveTimeline copies a timeline with its provisional attempts judged
// as s decides: inconclusive, an outcome, or left out (unknown: not an
// attempt).
func resolveTimeline(tl []Attempt, s sides) []Attempt {
	out := make([]Attempt, 0, len(tl))
	for _, a := range tl {
		if a.prov != provNone {
			o, inc := s.resolve(a.prov)
			switch {
			case inc:
				a.Outcome, a.Reason = OutcomeInconclusive, ""
			case o == flow.Unknown:
				continue
			default:
				a.Outcome = string(o)
				if o == flow.Established {
					a.Reason = ""
				}
			}
			a.prov = provNone
		}
		out = append(out, a)
	}
	return out
}

// finishUnexpected orders the unexpected groups by direction (in first),
// protocol and port; flows seen from one side are judged as the capture's
// coverage allows.
func finishUnexpected(m map[unexpectedKey]*unexpectedAcc, site *catalog.Site, cov *Coverage) []UnexpectedFlow {
	out := make([]UnexpectedFlow, 0, len(m))
	for k, u := range m {
		s := cov.sidesFor(dirOf(k.out))
		peers, omitted := u.ev.peerList(site, s)
		folded, foldedCounts := u.ev.folded(s)
		nodes, byNode := u.ev.nodeList(s)
		counts := u.ev.counts.resolved(s)
		first, last := u.ev.span(s)
		out = append(out, UnexpectedFlow{
			Direction: dirOf(k.out), Protocol: protoName(k.proto), Port: k.port,
			Counts: counts, Outcomes: outcomeList(counts), Reasons: u.ev.reasonList(s),
			Peers: peers, PeersOmitted: omitted, PeersFolded: folded, FoldedCounts: foldedCounts, Nodes: nodes, ByNode: byNode,
			FirstSeen: first.UTC(), LastSeen: last.UTC(),
			PeerNotAllowed: sortedKeys(u.peerNotAllowed), NotApplicable: sortedKeys(u.notApplicable),
			Processes: u.ev.procs.list(), ProcessFlowsOther: u.ev.procs.other, Activity: u.ev.act.report(s),
		})
	}
	slices.SortFunc(out, func(a, b UnexpectedFlow) int {
		return cmp.Or(cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return out
}

func dirOf(out bool) catalog.Direction {
	if out {
		return catalog.Out
	}
	return catalog.In
}

func (s *Summary) count(st Status) {
	switch st {
	case OK:
		s.OK++
	case Partial:
		s.Partial++
	case Blocked:
		s.Blocked++
	case NeverSeen:
		s.NeverSeen++
	case NotApplicable:
		s.NotApplicable++
	case Inconclusive:
		s.Inconclusive++
	}
}

// captureSummary copies the evidence statistics.
func captureSummary(st *capture.Stats, nodes []string) CaptureSummary {
	cs := CaptureSummary{Backend: st.Backend, Files: nonNil(st.Files), Iface: st.Iface,
		Start: st.Start.UTC(), End: st.End.UTC(), Packets: st.Packets, Bytes: st.Bytes, Flows: st.Flows,
		Undecodable: st.Undecodable, IfaceDrops: st.IfaceDrops, KernelDrops: st.KernelDrops, Duplicates: st.Duplicates,
		MissedBytes: st.MissedBytes, Evicted: st.Evicted, LossSeen: st.LossSeen(),
		Loss: nonNil(st.LossSignals()), Interrupted: st.Interrupted, StoppedEarly: stoppedEarly(st),
		Warnings: nonNil(st.Warnings), Nodes: nodes, Attribution: st.Attribution}
	if d := st.LocalDrops; d != nil {
		cs.LocalDrops = &LocalDrops{ByReason: map[string]uint64{}, Lost: d.Lost()}
		for r, n := range d.ByReason {
			cs.LocalDrops.ByReason[r] = n
		}
	}
	if !st.Start.IsZero() && st.End.After(st.Start) {
		cs.Seconds = st.End.Sub(st.Start).Seconds()
	}
	for _, sp := range st.Spans {
		cs.Spans = append(cs.Spans, CaptureSpan{Node: sp.Node, Start: sp.Start.UTC(), End: sp.End.UTC()})
	}
	slices.SortStableFunc(cs.Spans, func(a, b CaptureSpan) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Node, b.Node), a.End.Compare(b.End))
	})
	return cs
}

// lossWarnings say which loss signals were seen and what they may have
// done to the verdicts, then repeat the errors that stopped the reading of
// an input file, since those name the file and where it broke.
func lossWarnings(st *capture.Stats) []string {
	w := "capture loss seen (" + strings.Join(st.LossSignals(), ", ") +
		"): traffic may have gone unseen, so never-seen verdicts may be wrong"
	if stoppedEarly(st) {
		// Attempts younger than the pending window at the cut are pending;
		// an older one whose answer lies in what was not read (the next
		// file after a damaged one) still looks unanswered.
		w += "; the input was not read to its end, so blocked and partial verdicts may be wrong too " +
			"for attempts just before the cut whose answers were not read"
	}
	return append([]string{w}, st.ReadErrors...)
}

// stoppedEarly reports whether the input was not read to its end: an
// interrupted replay, or a truncated or damaged file.
func stoppedEarly(st *capture.Stats) bool {
	return st.Interrupted || len(st.ReadErrors) > 0
}

// zoneWarnings lists each zone the site does not define, with the
// applicable requirements that therefore matched any peer (a requirement
// that does not apply matched nothing, so it needs no warning).
func zoneWarnings(rules []rule) []string {
	byZone := map[string][]string{}
	for _, r := range rules {
		if !r.applies {
			continue
		}
		for _, z := range r.unconfZone {
			byZone[z] = append(byZone[z], r.id)
		}
	}
	var out []string
	for _, z := range sortedKeys(byZone) {
		ids := byZone[z]
		list := strings.Join(ids, ", ")
		if len(ids) > 3 {
			// Each requirement lists it in unconfigured_zones anyway.
			list = fmt.Sprintf("%s and %d more", strings.Join(ids[:3], ", "), len(ids)-3)
		}
		out = append(out, fmt.Sprintf("zone %q is not configured in a site file: %d requirement(s) naming it matched any peer (%s)",
			z, len(ids), list))
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
