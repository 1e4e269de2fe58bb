package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/catalog"
)

// finishRequirement turns evidence into the requirement's verdict.
func finishRequirement(req *Requirement, r *rule, ev *evidence, otherPeer int, site *catalog.Site) {
	ev.trimTimeline()
	req.Counts = ev.counts
	req.Peers, req.PeersOmitted = ev.peerList(site)
	req.PeersFolded, req.FoldedCounts = ev.folded()
	req.Nodes, req.ByNode = ev.nodeList()
	req.FirstSeen, req.LastSeen = utcPtr(ev.first), utcPtr(ev.last)
	req.Timeline, req.TimelineOmitted = nonNil(slices.Clone(ev.timeline)), ev.omitted
	req.OtherPeerFlows = otherPeer
	req.Reasons = ev.reasonList()
	req.Processes, req.ProcessFlowsOther = ev.procs.list(), ev.procs.other
	if req.TimelineOmitted > 0 {
		// The timeline shows every flow otherwise.
		req.Activity = ev.act.report()
	}
	c := ev.counts
	switch {
	case !r.applies:
		req.Status = NotApplicable
	case c.Attempts == 0:
		req.Status = NeverSeen
	case c.Established == c.Attempts:
		req.Status = OK
	case c.Established > 0:
		req.Status = Partial
	default:
		req.Status = Blocked
	}
	if c.Pending > 0 {
		req.Note = pendingNote(c.Pending, req.Peers)
	}
	if (req.Status == Blocked || req.Status == Partial) && len(req.Reasons) > 0 {
		req.Reason = req.Reasons[0].Reason
		req.ReasonText = req.Reason.Text()
	}
}

// finishUnexpected orders the unexpected groups by direction (in first),
// protocol and port.
func finishUnexpected(m map[unexpectedKey]*unexpectedAcc, site *catalog.Site) []UnexpectedFlow {
	out := make([]UnexpectedFlow, 0, len(m))
	for k, u := range m {
		peers, omitted := u.ev.peerList(site)
		folded, foldedCounts := u.ev.folded()
		nodes, byNode := u.ev.nodeList()
		out = append(out, UnexpectedFlow{
			Direction: dirOf(k.out), Protocol: protoName(k.proto), Port: k.port,
			Counts: u.ev.counts, Outcomes: outcomeList(u.ev.counts), Reasons: u.ev.reasonList(),
			Peers: peers, PeersOmitted: omitted, PeersFolded: folded, FoldedCounts: foldedCounts, Nodes: nodes, ByNode: byNode,
			FirstSeen: u.ev.first.UTC(), LastSeen: u.ev.last.UTC(),
			PeerNotAllowed: sortedKeys(u.peerNotAllowed), NotApplicable: sortedKeys(u.notApplicable),
			Processes: u.ev.procs.list(), ProcessFlowsOther: u.ev.procs.other, Activity: u.ev.act.report(),
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
	}
}

// captureSummary copies the evidence statistics.
func captureSummary(st *capture.Stats, nodes []string) CaptureSummary {
	cs := CaptureSummary{Backend: st.Backend, Files: nonNil(st.Files), Iface: st.Iface,
		Start: st.Start.UTC(), End: st.End.UTC(), Packets: st.Packets, Bytes: st.Bytes, Flows: st.Flows,
		Undecodable: st.Undecodable, IfaceDrops: st.IfaceDrops, KernelDrops: st.KernelDrops,
		MissedBytes: st.MissedBytes, Evicted: st.Evicted, LossSeen: st.LossSeen(),
		Loss: nonNil(st.LossSignals()), Interrupted: st.Interrupted, StoppedEarly: stoppedEarly(st),
		Warnings: nonNil(st.Warnings), Nodes: nodes, Attribution: st.Attribution}
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
