package analyze

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// reasonOrder breaks ties between equally frequent reasons: the more
// specific evidence first.
var reasonOrder = []Reason{
	ReasonAdminProhibited, ReasonRejected, ReasonRefusedByGateway, ReasonPortUnreachable,
	ReasonHostUnreachable, ReasonNetUnreachable, ReasonUnreachable, ReasonUnanswered, ReasonNoReply,
}

// flowReason says why a failed flow failed, seen in direction dir; "" for
// flows that worked or cannot be judged.
func flowReason(f *flow.Flow, dir catalog.Direction) (Reason, string) {
	switch f.Outcome {
	case flow.Rejected:
		// The capture is taken on the gateway: an inbound SYN it saw reached
		// it, so the RST answering it is the gateway's own.
		if dir == catalog.In {
			return ReasonRefusedByGateway, ""
		}
		return ReasonRejected, ""
	case flow.Unreachable:
		if f.ICMP == nil {
			return ReasonUnreachable, ""
		}
		// The ICMP error names its cause exactly: keep it, even when the
		// gateway itself sent it (an inbound UDP port with no listener).
		name := f.ICMP.Reason
		switch Reason(name) {
		case ReasonAdminProhibited, ReasonPortUnreachable, ReasonHostUnreachable, ReasonNetUnreachable:
			return Reason(name), ""
		}
		return ReasonUnreachable, name
	case flow.Unanswered:
		if f.Proto == flow.ProtoUDP {
			return ReasonNoReply, ""
		}
		return ReasonUnanswered, ""
	}
	return "", ""
}

// peerAcc gathers what was seen of one peer.
type peerAcc struct {
	names  map[string]bool
	counts Counts
}

// evidence gathers the flows behind one requirement or unexpected group.
type evidence struct {
	counts      Counts
	peers       map[netip.Addr]*peerAcc
	nodes       map[string]bool
	reasons     map[Reason]int
	details     map[Reason]map[string]bool
	first, last time.Time
	timeline    []Attempt
	omitted     int
	keepTimes   bool
}

func newEvidence(timeline bool) *evidence {
	return &evidence{peers: map[netip.Addr]*peerAcc{}, nodes: map[string]bool{},
		reasons: map[Reason]int{}, details: map[Reason]map[string]bool{}, keepTimes: timeline}
}

// countOutcome adds one flow's outcome to c.
func countOutcome(c *Counts, o flow.Outcome) {
	c.Flows++
	switch o {
	case flow.Established:
		c.Established++
	case flow.Rejected:
		c.Rejected++
	case flow.Unreachable:
		c.Unreachable++
	case flow.Unanswered:
		c.Unanswered++
	default:
		c.Unknown++
		return
	}
	c.Attempts++
}

// add records one flow seen as v.
func (e *evidence) add(f *flow.Flow, v view) {
	countOutcome(&e.counts, f.Outcome)
	p := e.peers[v.peer]
	if p == nil {
		p = &peerAcc{names: map[string]bool{}}
		e.peers[v.peer] = p
	}
	countOutcome(&p.counts, f.Outcome)
	for _, n := range v.names {
		p.names[normName(n)] = true
	}
	if f.Node != "" {
		e.nodes[f.Node] = true
	}
	if f.Outcome == flow.Unknown || f.Outcome == "" {
		return // not an attempt: no time, no reason
	}
	if e.first.IsZero() || f.Start.Before(e.first) {
		e.first = f.Start
	}
	end := f.End
	if end.Before(f.Start) {
		end = f.Start
	}
	if end.After(e.last) {
		e.last = end
	}
	r, detail := flowReason(f, v.dir)
	if r != "" {
		e.reasons[r]++
		if detail != "" {
			if e.details[r] == nil {
				e.details[r] = map[string]bool{}
			}
			e.details[r][detail] = true
		}
	}
	if e.keepTimes {
		e.timeline = append(e.timeline, Attempt{Time: f.Start.UTC(), Peer: v.peer, Port: v.port,
			Outcome: string(f.Outcome), Reason: r, Node: f.Node, UID: f.UID})
		if len(e.timeline) >= 2*MaxTimeline {
			e.trimTimeline()
		}
	}
}

// trimTimeline keeps the earliest MaxTimeline attempts.
func (e *evidence) trimTimeline() {
	slices.SortFunc(e.timeline, compareAttempts)
	if len(e.timeline) > MaxTimeline {
		e.omitted += len(e.timeline) - MaxTimeline
		e.timeline = e.timeline[:MaxTimeline]
	}
}

func compareAttempts(a, b Attempt) int {
	return cmp.Or(a.Time.Compare(b.Time), a.Peer.Compare(b.Peer), cmp.Compare(a.Port, b.Port),
		cmp.Compare(a.Node, b.Node), cmp.Compare(a.UID, b.UID), cmp.Compare(a.Outcome, b.Outcome))
}

// reasonList returns the failure reasons, most frequent first.
func (e *evidence) reasonList() []ReasonCount {
	out := []ReasonCount{}
	for _, r := range reasonOrder {
		n := e.reasons[r]
		if n == 0 {
			continue
		}
		rc := ReasonCount{Reason: r, Text: r.Text(), Flows: n}
		for d := range e.details[r] {
			rc.Detail = append(rc.Detail, d)
		}
		slices.Sort(rc.Detail)
		out = append(out, rc)
	}
	// Stable: ties keep reasonOrder.
	slices.SortStableFunc(out, func(a, b ReasonCount) int { return cmp.Compare(b.Flows, a.Flows) })
	return out
}

// peerList returns the peers in address order, with their names and the
// site zones they belong to.
func (e *evidence) peerList(site *catalog.Site) []PeerSeen {
	out := make([]PeerSeen, 0, len(e.peers))
	for a, p := range e.peers {
		ps := PeerSeen{Addr: a, Names: sortedKeys(p.names), Counts: p.counts, Zones: zonesOf(a, site)}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b PeerSeen) int { return a.Addr.Compare(b.Addr) })
	return out
}

// zonesOf lists the site zones containing a, sorted.
func zonesOf(a netip.Addr, site *catalog.Site) []string {
	if site == nil {
		return nil
	}
	var zs []string
	for name, pfxs := range site.Zones {
		for _, p := range pfxs {
			if p.Contains(a) {
				zs = append(zs, name)
				break
			}
		}
	}
	slices.Sort(zs)
	return zs
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// outcomeList names the outcomes present in c, in a fixed order.
func outcomeList(c Counts) []string {
	out := []string{}
	for _, x := range []struct {
		n    int
		name flow.Outcome
	}{{c.Established, flow.Established}, {c.Rejected, flow.Rejected}, {c.Unreachable, flow.Unreachable},
		{c.Unanswered, flow.Unanswered}, {c.Unknown, flow.Unknown}} {
		if x.n > 0 {
			out = append(out, string(x.name))
		}
	}
	return out
}

// utcPtr returns t in UTC, or nil for the zero time.
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
