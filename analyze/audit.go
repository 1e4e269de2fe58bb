package analyze

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// Options says what to audit against.
type Options struct {
	// Products are audited together: a flow any applicable requirement of
	// any of them allows is not unexpected.
	Products []*catalog.Product
	// Site gives zones, gateway addresses and features; may be nil.
	Site *catalog.Site
	// Hosts are the gateway's addresses (--host). They override the site's;
	// when both are empty the addresses are inferred from the traffic.
	Hosts []netip.Addr
	// HostsHow says how the caller obtained Hosts ("interface eth0
	// addresses"); empty means "given with --host".
	HostsHow string
	// Features (--with) override the site's features.
	Features map[string]bool
}

// unexpectedKey groups unexpected flows. Comparable without strings: it
// is hashed once per unexpected flow.
type unexpectedKey struct {
	out   bool
	proto uint8 // ICMPv6 folded into ICMP, as the catalog names both "icmp"
	port  uint16
}

type unexpectedAcc struct {
	ev             *evidence
	peerNotAllowed map[string]bool
	notApplicable  map[string]bool
}

// Audit matches the flows of res against the products' requirements and
// returns the report. It fails only on unusable options (no products, a
// malformed peer in a catalog); flows it cannot place are counted, never
// dropped.
func Audit(res *capture.Result, opts Options) (*Report, error) {
	if res == nil {
		return nil, errors.New("audit: no capture result")
	}
	if len(opts.Products) == 0 {
		return nil, errors.New("audit: no product to audit against")
	}
	rep := &Report{Schema: SchemaVersion, Requirements: []Requirement{}, Unexpected: []UnexpectedFlow{},
		Housekeeping: []Housekeeping{}, Warnings: []string{}, Products: []ProductSummary{},
		Zones: map[string][]netip.Prefix{}}
	if opts.Site != nil {
		for z, p := range opts.Site.Zones {
			rep.Zones[z] = p
		}
	}

	features := map[string]bool{}
	if opts.Site != nil {
		for k, v := range opts.Site.Features {
			features[k] = v
		}
	}
	for k, v := range opts.Features {
		features[k] = v
	}

	rules, err := compileRules(rep, opts, features)
	if err != nil {
		return nil, err
	}

	hosts, how, inferred := chooseHosts(res.Flows, opts)
	hs := newHostSet(hosts)
	rep.Hosts = Hosts{Addrs: hs.sorted(), How: how, Inferred: inferred}
	if inferred {
		rep.Warnings = append(rep.Warnings, "gateway addresses were inferred from the traffic ("+
			addrList(rep.Hosts.Addrs)+"): give --host or a site file to be sure")
	}

	evs := make([]*evidence, len(rules))
	otherPeer := make([]int, len(rules))
	for i := range rules {
		evs[i] = newEvidence(true)
	}
	idx := ruleIndex{rules: rules, hits: map[ruleKey][]ruleHit{}}
	hk := map[string]*Housekeeping{}
	unexp := map[unexpectedKey]*unexpectedAcc{}
	rep.Summary.Flows = len(res.Flows)

	for i := range res.Flows {
		f := &res.Flows[i]
		if kind := housekeepingKind(f); kind != "" {
			h := hk[kind]
			if h == nil {
				h = &Housekeeping{Kind: kind}
				hk[kind] = h
			}
			h.Flows++
			h.Packets += f.OrigPkts + f.RespPkts
			continue
		}
		vs, nv := hs.views(f)
		if nv == 0 {
			rep.Summary.Transit++
			continue
		}
		allowed := false
		var peerNo, notApp []string
		for _, v := range vs[:nv] {
			for _, hit := range idx.lookup(f, v) {
				ri, counts := hit.rule, hit.counts
				r := &rules[ri]
				if !r.peerOK(v.peer, v.names) {
					otherPeer[ri]++
					peerNo = append(peerNo, r.id)
					continue
				}
				if counts {
					evs[ri].add(f, v)
				}
				if r.applies {
					allowed = true
				} else {
					notApp = append(notApp, r.id)
				}
			}
		}
		if allowed {
			rep.Summary.Matched++
			continue
		}
		v := vs[0]
		proto := f.Proto
		if proto == flow.ProtoICMPv6 {
			proto = flow.ProtoICMP
		}
		key := unexpectedKey{out: v.dir == catalog.Out, proto: proto, port: v.port}
		u := unexp[key]
		if u == nil {
			u = &unexpectedAcc{ev: newEvidence(false), peerNotAllowed: map[string]bool{}, notApplicable: map[string]bool{}}
			unexp[key] = u
		}
		u.ev.add(f, v)
		for _, id := range peerNo {
			u.peerNotAllowed[id] = true
		}
		for _, id := range notApp {
			u.notApplicable[id] = true
		}
	}

	for i := range rules {
		finishRequirement(&rep.Requirements[i], &rules[i], evs[i], otherPeer[i], opts.Site)
		rep.Summary.count(rep.Requirements[i].Status)
	}
	rep.Summary.Requirements = len(rep.Requirements)
	rep.Unexpected = finishUnexpected(unexp, opts.Site)
	rep.Summary.Unexpected = len(rep.Unexpected)
	for _, u := range rep.Unexpected {
		rep.Summary.UnexpectedFlows += u.Counts.Flows
	}
	for _, k := range housekeepingKinds {
		if h := hk[k.kind]; h != nil {
			h.Text = k.text
			rep.Housekeeping = append(rep.Housekeeping, *h)
			rep.Summary.Housekeeping += h.Flows
		}
	}
	rep.Capture = captureSummary(res)
	rep.Warnings = append(rep.Warnings, zoneWarnings(rules)...)
	if rep.Capture.LossSeen {
		rep.Warnings = append(rep.Warnings, lossWarning(&res.Stats))
	}
	if rep.Summary.Transit > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d flow(s) had no gateway address on either side (transit, not audited): are the gateway addresses (%s) complete?",
			rep.Summary.Transit, addrList(rep.Hosts.Addrs)))
	}
	if len(res.Flows) == 0 {
		rep.Warnings = append(rep.Warnings, "the capture holds no flows: every applicable requirement is never-seen")
	}
	for _, name := range sortedKeys(toSet(opts.Features)) {
		if _, used := rep.Features[name]; !used {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("feature %q is not a condition of any audited requirement", name))
		}
	}
	return rep, nil
}

// ruleKey is what decides which rules a flow can match, peers aside.
type ruleKey struct {
	out   bool
	proto uint8
	port  uint16 // server port; ICMP: the message type
}

type ruleHit struct {
	rule   int
	counts bool // evidence for the status (see rule.matchesFlow)
}

// ruleIndex remembers, per ruleKey, the rules a flow with that key
// matches, so each flow costs one map lookup rather than a scan of every
// requirement.
type ruleIndex struct {
	rules []rule
	hits  map[ruleKey][]ruleHit
}

func (x *ruleIndex) lookup(f *flow.Flow, v view) []ruleHit {
	k := ruleKey{out: v.dir == catalog.Out, proto: f.Proto, port: v.port}
	if hits, ok := x.hits[k]; ok {
		return hits
	}
	var hits []ruleHit
	for ri := range x.rules {
		if match, counts := x.rules[ri].matchesFlow(f, v); match {
			hits = append(hits, ruleHit{rule: ri, counts: counts})
		}
	}
	x.hits[k] = hits
	return hits
}

// compileRules fills rep.Requirements (catalog order, products in the
// order given, duplicates skipped) and returns the matching rules.
func compileRules(rep *Report, opts Options, features map[string]bool) ([]rule, error) {
	var rules []rule
	seen := map[string]bool{}
	rep.Features = map[string]bool{}
	for _, p := range opts.Products {
		if p == nil || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		rep.Products = append(rep.Products, ProductSummary{Name: p.Name, Title: p.Title, Requirements: len(p.Requirements)})
		for i := range p.Requirements {
			cr := &p.Requirements[i]
			peers, unconf, err := compilePeers(cr.Peers, opts.Site)
			if err != nil {
				return nil, fmt.Errorf("audit: requirement %s: %w", cr.ID, err)
			}
			applies := cr.Applies(features)
			if cr.Condition != nil {
				rep.Features[cr.Condition.Feature] = applies
			}
			rules = append(rules, rule{product: p.Name, id: cr.ID, dir: cr.Direction,
				proto: cr.Protocol, ports: cr.Ports, peers: peers, applies: applies, unconfZone: unconf})
			rep.Requirements = append(rep.Requirements, Requirement{
				Product: p.Name, ID: cr.ID, Direction: cr.Direction, Protocol: cr.Protocol,
				Ports: nonNil(cr.Ports), Service: cr.Service, Purpose: cr.Purpose, Allowed: nonNil(cr.Peers),
				Condition: cr.Condition, Notes: nonNil(cr.Notes), Source: cr.Source,
				UnconfiguredZones: nonNil(unconf),
			})
		}
	}
	return rules, nil
}

// chooseHosts picks the gateway addresses: --host, then the site file,
// then inference.
func chooseHosts(flows []flow.Flow, opts Options) ([]netip.Addr, string, bool) {
	if len(opts.Hosts) > 0 {
		how := opts.HostsHow
		if how == "" {
			how = "given with --host"
		}
		return opts.Hosts, how, false
	}
	if opts.Site != nil && len(opts.Site.Hosts) > 0 {
		return opts.Site.Hosts, "from the site file", false
	}
	addrs, how := inferHosts(flows)
	return addrs, how, true
}

// finishRequirement turns evidence into the requirement's verdict.
func finishRequirement(req *Requirement, r *rule, ev *evidence, otherPeer int, site *catalog.Site) {
	ev.trimTimeline()
	req.Counts = ev.counts
	req.Peers, req.PeersOmitted = ev.peerList(site)
	req.Nodes = sortedKeys(ev.nodes)
	req.FirstSeen, req.LastSeen = utcPtr(ev.first), utcPtr(ev.last)
	req.Timeline, req.TimelineOmitted = ev.timeline, ev.omitted
	if req.Timeline == nil {
		req.Timeline = []Attempt{}
	}
	req.OtherPeerFlows = otherPeer
	req.Reasons = ev.reasonList()
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
		out = append(out, UnexpectedFlow{
			Direction: dirOf(k.out), Protocol: protoName(k.proto), Port: k.port,
			Counts: u.ev.counts, Outcomes: outcomeList(u.ev.counts), Reasons: u.ev.reasonList(),
			Peers: peers, PeersOmitted: omitted, Nodes: sortedKeys(u.ev.nodes),
			FirstSeen: u.ev.first.UTC(), LastSeen: u.ev.last.UTC(),
			PeerNotAllowed: sortedKeys(u.peerNotAllowed), NotApplicable: sortedKeys(u.notApplicable),
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
func captureSummary(res *capture.Result) CaptureSummary {
	st := &res.Stats
	cs := CaptureSummary{Backend: st.Backend, Files: nonNil(st.Files), Iface: st.Iface,
		Start: st.Start.UTC(), End: st.End.UTC(), Packets: st.Packets, Bytes: st.Bytes, Flows: st.Flows,
		Undecodable: st.Undecodable, IfaceDrops: st.IfaceDrops, KernelDrops: st.KernelDrops,
		MissedBytes: st.MissedBytes, Evicted: st.Evicted, LossSeen: st.LossSeen(),
		Warnings: nonNil(st.Warnings)}
	if !st.Start.IsZero() && st.End.After(st.Start) {
		cs.Seconds = st.End.Sub(st.Start).Seconds()
	}
	nodes := map[string]bool{}
	for i := range res.Flows {
		if n := res.Flows[i].Node; n != "" {
			nodes[n] = true
		}
	}
	cs.Nodes = sortedKeys(nodes)
	return cs
}

// lossWarning says which loss signals were seen.
func lossWarning(st *capture.Stats) string {
	var parts []string
	for _, x := range []struct {
		n    uint64
		what string
	}{{st.KernelDrops, "packets dropped by the kernel"}, {st.IfaceDrops, "packets dropped by the interface"},
		{st.MissedBytes, "bytes acknowledged but never captured"}, {st.Evicted, "flows evicted from a full table"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	return "capture loss seen (" + strings.Join(parts, ", ") + "): never-seen verdicts may be wrong"
}

// zoneWarnings lists each zone the site does not define, with the
// requirements that therefore matched any peer.
func zoneWarnings(rules []rule) []string {
	byZone := map[string][]string{}
	for _, r := range rules {
		for _, z := range r.unconfZone {
			byZone[z] = append(byZone[z], r.id)
		}
	}
	var out []string
	for _, z := range sortedKeys(toSet(byZone)) {
		ids := byZone[z]
		out = append(out, fmt.Sprintf("zone %q is not configured in a site file: %d requirement(s) naming it matched any peer (%s)",
			z, len(ids), strings.Join(ids, ", ")))
	}
	return out
}

func toSet[V any](m map[string]V) map[string]bool {
	s := make(map[string]bool, len(m))
	for k := range m {
		s[k] = true
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func addrList(as []netip.Addr) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}
