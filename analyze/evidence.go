package analyze

import (
	"cmp"
	"container/heap"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// reasonOrder breaks ties between equally frequent reasons: the more
// specific evidence first.
var reasonOrder = []Reason{
	ReasonLocalDrop, ReasonNoRoute, ReasonNeighFailed, ReasonSocketFilter, ReasonAdminProhibited, ReasonRejected, ReasonRefusedByGateway, ReasonPortUnreachable,
	ReasonHostUnreachable, ReasonNetUnreachable, ReasonUnreachable, ReasonHandshakeIncomplete, ReasonUnanswered, ReasonNoReply,
}

// flowReason says why a failed flow failed, seen in direction dir; "" for
// flows that worked or cannot be judged.
func flowReason(f *flow.Flow, dir catalog.Direction) (Reason, string) {
	// The gateway's own kernel dropped it: that is why, whatever the wire
	// showed (an input drop looks unanswered, a reject refused).
	if r := localFailure(f); r != "" {
		if r == ReasonLocalDrop {
			rule := f.LocalDrop.Rule
			if rule == "" {
				rule = capture.RuleLocation{Hook: f.LocalDrop.Hook}.String()
			}
			return r, rule
		}
		return r, ""
	}
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
		case ReasonPortUnreachable:
			// Sent by a host other than the server: a router or firewall
			// rejecting the packet (nftables' plain "reject" does this,
			// for TCP too), not a closed port on the server.
			if from := f.ICMP.From.Unmap(); from.IsValid() && from != f.Resp.Addr().Unmap() {
				return ReasonPortUnreachable, "sent by " + from.String() + ", not the server: a firewall rejects it"
			}
			return ReasonPortUnreachable, ""
		case ReasonAdminProhibited, ReasonHostUnreachable, ReasonNetUnreachable:
			return Reason(name), ""
		}
		return ReasonUnreachable, name
	case flow.Unanswered:
		if f.Proto == flow.ProtoUDP {
			return ReasonNoReply, ""
		}
		if f.Proto == flow.ProtoTCP && f.RespPkts > 0 {
			return ReasonHandshakeIncomplete, ""
		}
		return ReasonUnanswered, ""
	}
	return "", ""
}

// evidence gathers the flows behind one requirement or unexpected group.
type evidence struct {
	counts  Counts
	peers   peerTable
	nodes   map[string]*Counts // per gateway node (merged sessions)
	reasons map[Reason]int
	details map[Reason]map[string]bool
	// hooks: where the gateway dropped the attempts of each local reason
	// (hookInput, hookOutput bits).
	hooks       map[Reason]uint8
	first, last time.Time
	timeline    []Attempt
	omitted     int
	maxKept     time.Time // latest start in timeline
	keepTimes   bool
	// oneway: the requirement expects no reply, so a datagram sent and
	// not answered is the exchange working, not failing.
	oneway bool
	// procs are the local programs behind the flows (eBPF); act counts
	// the flows over time (nil until the first).
	procs processTable
	act   *activity
	// provReasons count the reasons provisional flows fail with if the
	// capture's coverage makes them failures; provFirst and provLast
	// span them, by class (decided at Report: provisional).
	provReasons         map[provReason]int
	provFirst, provLast [numProv]time.Time
	// pendingLeft is the longest a pending flow still needed, at the end
	// of the capture, before its lack of an answer would count: how much
	// longer to capture (set at Report, on the settled copy).
	pendingLeft time.Duration
}

// provReason is a failure reason of a class of provisional flows.
type provReason struct {
	p prov
	r Reason
}

// maxDetails bounds the details kept per reason: a firewall's address
// for port unreachable sent by one, or the ICMP error's name. Forged
// ICMP errors from many addresses must not grow a requirement without
// end; detailsMore stands for the others.
const (
	maxDetails  = 8
	detailsMore = "and others"
)

// newEvidence prepares the evidence of a requirement (timeline true) or
// of an unexpected group.
func newEvidence(timeline bool) *evidence {
	max := maxReqPeers
	if !timeline {
		max = maxGroupPeers
	}
	return &evidence{peers: newPeerTable(max), nodes: map[string]*Counts{},
		reasons: map[Reason]int{}, details: map[Reason]map[string]bool{}, keepTimes: timeline,
		provReasons: map[provReason]int{}}
}

// countOutcome adds one flow to c; a pending flow is counted apart, not as
// an attempt, and so is a provisional one until Report resolves it.
func countOutcome(c *Counts, vd verdict) {
	c.Flows++
	switch {
	case vd.pending:
		c.Pending++
		return
	case vd.prov != provNone:
		c.prov[vd.prov]++
		return
	}
	switch vd.out {
	case flow.Established:
		c.Established++
	case flow.Rejected:
		c.Rejected++
	case flow.Unreachable:
		c.Unreachable++
	case flow.Unanswered:
		c.Unanswered++
	case flow.NotSent:
		c.NotSent++
	default:
		c.Unknown++
		return
	}
	c.Attempts++
}

// add records one flow seen as v; a pending flow (cut off by the end of
// the capture) counts in the flows, peers and timeline, never as an
// attempt or a failure; a flow seen from one side only whose verdict the
// capture's coverage decides is provisional until Report.
func (e *evidence) add(f *flow.Flow, v view, pending bool) {
	out := f.Outcome
	if e.oneway && out == flow.Unanswered {
		out = flow.Established
		pending = false // nothing to wait for
	}
	vd := verdict{out: out, pending: pending}
	if !pending {
		vd.prov = provisional(f, out)
	}
	countOutcome(&e.counts, vd)
	e.peers.add(v.peer, v.names, vd)
	kind := activityKind(vd)
	// A program's failures include the flows the coverage may make
	// failures: captures that name programs (eBPF) see both sides.
	e.procs.add(f.Process, kind == actFailed || kind == actProvFails || kind == actProvRejects)
	if e.act == nil {
		e.act = newActivity(f.Start)
	}
	e.act.add(f.Start, kind)
	if f.Node != "" {
		c := e.nodes[f.Node]
		if c == nil {
			c = &Counts{}
			e.nodes[strings.Clone(f.Node)] = c
		}
		countOutcome(c, vd)
	}
	if pending {
		e.keep(f, v, OutcomePending, "", provNone)
		return // not an attempt: no first/last seen, no reason
	}
	if vd.prov != provNone {
		e.addProv(f, v, vd.prov)
		return
	}
	if out == flow.Unknown || out == "" {
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
	var r Reason
	var detail string
	if out == f.Outcome {
		r, detail = flowReason(f, v.dir)
	}
	if r != "" {
		e.reasons[r]++
		if detail != "" {
			e.addDetail(r, detail)
		}
		if r.Local() {
			if e.hooks == nil {
				e.hooks = map[Reason]uint8{}
			}
			e.hooks[r] |= hookBit(f.LocalDrop.Hook)
		}
	}
	e.keep(f, v, string(out), r, provNone)
}

// addProv records what Report needs to judge a provisional flow: its
// reason should it be a failure, its time, its place on the timeline.
func (e *evidence) addProv(f *flow.Flow, v view, p prov) {
	var r Reason
	if p == provNoAnswer || p == provRespReject {
		r, _ = flowReason(f, v.dir)
		e.provReasons[provReason{p, r}]++
	}
	if e.provFirst[p].IsZero() || f.Start.Before(e.provFirst[p]) {
		e.provFirst[p] = f.Start
	}
	end := f.End
	if end.Before(f.Start) {
		end = f.Start
	}
	if end.After(e.provLast[p]) {
		e.provLast[p] = end
	}
	e.keep(f, v, string(f.Outcome), r, p)
}

// activityKind is the Activity counter a flow goes to.
func activityKind(vd verdict) int {
	switch {
	case vd.prov == provNoAnswer:
		return actProvFails
	case vd.prov == provRespReject:
		return actProvRejects
	case vd.prov == provRespAnswer:
		return actProvAnswers
	case vd.pending || vd.prov != provNone || vd.out == flow.Unknown || vd.out == "":
		return actOther
	case vd.out == flow.Established:
		return actEstablished
	}
	return actFailed
}

// addDetail notes a detail of reason r, up to maxDetails of them.
func (e *evidence) addDetail(r Reason, detail string) {
	d := e.details[r]
	if d == nil {
		d = map[string]bool{}
		e.details[r] = d
	}
	switch {
	case d[detail]:
	case len(d) < maxDetails:
		d[strings.Clone(detail)] = true
	default:
		d[detailsMore] = true
	}
}

// keep puts f on the timeline (requirements only) as outcome (for a
// provisional flow p: its outcome if judged, decided at Report).
func (e *evidence) keep(f *flow.Flow, v view, outcome string, r Reason, p prov) {
	if !e.keepTimes {
		return
	}
	// Flows come roughly in time order: once the timeline is full, a
	// flow later than everything kept is left out at once.
	if len(e.timeline) >= MaxTimeline && f.Start.After(e.maxKept) {
		e.omitted++
		return
	}
	if f.Start.After(e.maxKept) {
		e.maxKept = f.Start
	}
	e.timeline = append(e.timeline, Attempt{Time: f.Start.UTC(), Peer: v.peer, Port: v.port,
		Outcome: outcome, Reason: r, Node: f.Node, UID: f.UID, Process: cloneProcess(f.Process), prov: p})
	if len(e.timeline) >= 2*MaxTimeline {
		e.trimTimeline()
	}
}

// cloneProcess copies p: the caller may reuse the flow it came with.
func cloneProcess(p *flow.Process) *flow.Process {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// trimTimeline keeps the earliest MaxTimeline attempts.
func (e *evidence) trimTimeline() {
	slices.SortFunc(e.timeline, compareAttempts)
	if len(e.timeline) > MaxTimeline {
		e.omitted += len(e.timeline) - MaxTimeline
		e.timeline = e.timeline[:MaxTimeline]
		e.maxKept = e.timeline[MaxTimeline-1].Time
	}
}

func compareAttempts(a, b Attempt) int {
	return cmp.Or(a.Time.Compare(b.Time), a.Peer.Compare(b.Peer), cmp.Compare(a.Port, b.Port),
		cmp.Compare(a.Node, b.Node), cmp.Compare(a.UID, b.UID), cmp.Compare(a.Outcome, b.Outcome))
}

// reasonList returns the failure reasons, most frequent first, with
// those of the provisional flows s makes failures.
func (e *evidence) reasonList(s sides) []ReasonCount {
	out := []ReasonCount{}
	for _, r := range reasonOrder {
		n := e.reasons[r]
		for pr, k := range e.provReasons {
			if o, inc := s.resolve(pr.p); pr.r == r && !inc && o != flow.Unknown && o != flow.Established {
				n += k
			}
		}
		if n == 0 {
			continue
		}
		rc := ReasonCount{Reason: r, Text: r.Text(), Flows: n}
		if r.Local() {
			rc.Text = localText(r, e.hooks[r])
		}
		for d := range e.details[r] {
			if d != detailsMore {
				rc.Detail = append(rc.Detail, d)
			}
		}
		slices.Sort(rc.Detail)
		if e.details[r][detailsMore] {
			rc.Detail = append(rc.Detail, detailsMore)
		}
		out = append(out, rc)
	}
	// Stable: ties keep reasonOrder.
	slices.SortStableFunc(out, func(a, b ReasonCount) int { return cmp.Compare(b.Flows, a.Flows) })
	return out
}

// MaxPeers bounds the peers listed per requirement or unexpected group;
// PeersOmitted counts the others.
const MaxPeers = 100

// peerList returns the peers worst first: most failed attempts, then most
// flows, then address order; at most MaxPeers, and how many were left out.
// Counts are resolved as s decides.
func (e *evidence) peerList(site *catalog.Site, s sides) ([]PeerSeen, int) {
	// Keep the MaxPeers best-ranked in a heap whose root is the worst kept:
	// O(n log MaxPeers) rather than sorting every peer of a busy service.
	kept := peerHeap{}
	resolved := make([]peerAcc, len(e.peers.peers))
	for i := range e.peers.peers {
		resolved[i] = e.peers.peers[i]
		resolved[i].counts = resolved[i].counts.resolved(s)
		p := &resolved[i]
		if len(kept) < MaxPeers {
			heap.Push(&kept, p)
		} else if comparePeers(p, kept[0]) < 0 {
			kept[0] = p
			heap.Fix(&kept, 0)
		}
	}
	slices.SortFunc(kept, comparePeers)
	out := make([]PeerSeen, len(kept))
	for i, p := range kept {
		names := slices.Clone(p.names)
		if names == nil {
			names = []string{}
		}
		slices.Sort(names)
		out[i] = PeerSeen{Addr: p.addr, Names: names, Counts: p.counts, Zones: zonesOf(p.addr, site)}
	}
	return out, len(e.peers.peers) - len(kept)
}

// folded returns the estimated number of folded peers and their flows'
// counts (resolved as s decides); 0 and nil when no peer was folded.
func (e *evidence) folded(s sides) (int, *Counts) {
	if e.peers.folded == nil {
		return 0, nil
	}
	c := e.peers.rest.resolved(s)
	return e.peers.foldedPeers(), &c
}

// comparePeers ranks peers: most failed attempts, most flows, address.
func comparePeers(a, b *peerAcc) int {
	return cmp.Or(cmp.Compare(b.counts.Failed(), a.counts.Failed()), cmp.Compare(b.counts.Flows, a.counts.Flows), a.addr.Compare(b.addr))
}

// peerHeap has the worst-ranked peer at its root.
type peerHeap []*peerAcc

func (h peerHeap) Len() int           { return len(h) }
func (h peerHeap) Less(i, j int) bool { return comparePeers(h[i], h[j]) > 0 }
func (h peerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *peerHeap) Push(x any)        { *h = append(*h, x.(*peerAcc)) }
func (h *peerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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

// sortedKeys returns m's keys in order, never nil (an empty list stays []
// in JSON).
func sortedKeys[V any](m map[string]V) []string {
	out := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(out)
	return out
}

// nodeList returns the nodes in name order, and what each saw (resolved as
// s decides).
func (e *evidence) nodeList(s sides) ([]string, []NodeCounts) {
	names := make([]string, 0, len(e.nodes))
	for n := range e.nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	by := make([]NodeCounts, len(names))
	for i, n := range names {
		by[i] = NodeCounts{Node: n, Counts: e.nodes[n].resolved(s)}
	}
	return names, by
}

// outcomeList names the outcomes present in c, in a fixed order.
func outcomeList(c Counts) []string {
	out := []string{}
	for _, x := range []struct {
		n    int
		name flow.Outcome
	}{{c.Established, flow.Established}, {c.Rejected, flow.Rejected}, {c.Unreachable, flow.Unreachable},
		{c.Unanswered, flow.Unanswered}, {c.NotSent, flow.NotSent}, {c.Unknown, flow.Unknown}, {c.Inconclusive, OutcomeInconclusive}, {c.Pending, OutcomePending}} {
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
