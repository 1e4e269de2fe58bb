package analyze

import (
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/text"
)

// Options says what to audit against.
type Options struct {
	// Products are audited together: a flow any applicable requirement of
	// any of them allows is not unexpected.
	Products []*catalog.Product
	// Site gives zones, gateway addresses and features; may be nil.
	Site *catalog.Site
	// Hosts are the gateway's addresses given with --host. They override
	// the site's; when both are empty the addresses are inferred from the
	// traffic (see Gateway).
	Hosts []netip.Addr
	// SiteFile is the name the site file was given as, which sessions
	// record with its hosts.
	SiteFile string
	// Gateway, when its Origin is not capture.OriginNone, is the caller's
	// decision of the gateway addresses (ResolveHosts: the capture
	// interface's, the sessions', one inferred beforehand) and wins over
	// Hosts and Site; the report describes it (Report.Hosts).
	Gateway capture.HostsDecision
	// Features (--with) override the site's features.
	Features map[string]bool
	// PendingWindow: a flow still open at the end of the capture with no
	// answer yet, which started less than this before the capture's last
	// packet, is pending (the capture ended before an answer could come),
	// not a failure. Zero means DefaultPendingWindow; negative turns the
	// rule off (every unanswered flow is a failure).
	PendingWindow time.Duration
	// NoiseSources bounds the sources the scanner test follows at once
	// (and so its memory: it holds at most twice as many flows); zero
	// means DefaultNoiseSources. See docs/report.md "Internet noise".
	NoiseSources int
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

// MaxUnexpected bounds the unexpected groups a report lists; flows of
// further groups are counted together (Report.UnexpectedFolded), so the
// groups' memory does not grow with the number of ports an attacker
// makes the gateway answer.
const MaxUnexpected = 1024

// foldedGroups counts the unexpected flows of groups beyond MaxUnexpected:
// which groups (a set of keys, bounded by the key space) and their flows.
type foldedGroups struct {
	keys   map[unexpectedKey]struct{}
	counts [2]Counts // inbound, outbound: provisional flows resolve by direction
}

// Audit matches the flows of res against the products' requirements and
// returns the report. It fails only on unusable options (no products, a
// malformed peer in a catalog); flows it cannot place are counted, never
// dropped.
func Audit(res *capture.Result, opts Options) (*Report, error) {
	if res == nil {
		return nil, errors.New("audit: no capture result")
	}
	a, err := NewAuditor(opts)
	if err != nil {
		return nil, err
	}
	if a.infer {
		// The caller owns res.Flows for the call: read them in place.
		a = a.withHosts(InferHosts(flowsOf(res.Flows)))
	}
	for i := range res.Flows {
		a.t.add(a, &res.Flows[i])
	}
	return a.report(res.Stats), nil
}

// Auditor audits flows one at a time, so a capture need not be held in
// memory (replay streams flows into it) and a live capture can ask for a
// report at any moment. Without gateway addresses (no Hosts, no site
// hosts) it must see every flow before inferring them: it then keeps a
// compact copy of each flow until Report. An Auditor is not safe for
// concurrent use: callers serialise Add and Report.
type Auditor struct {
	opts   Options
	base   Report // requirements, products, features, zones
	rules  []rule
	idx    ruleIndex
	hs     hostSet
	names  []string // scratch for hostSet.views
	hosts  Hosts
	infer  bool
	exempt []netip.Prefix // sources always judged (zones, IP peers)
	// held are the flows held until the gateway addresses are inferred
	// (infer), packed, in fixed-size chunks.
	held     [][]flow.Packed
	heldPack *flow.PackTable
	t        *tally
}

// heldChunk is how many held flows one allocation holds.
const heldChunk = 4096

// tally is what the flows added so far amount to.
type tally struct {
	evs       []*evidence
	otherPeer []int
	hk        map[string]*Housekeeping
	unexp     map[unexpectedKey]*unexpectedAcc
	flows     int
	matched   int
	transit   int
	nodes     map[string]bool
	hostSeen  map[netip.Addr]bool // gateway addresses that took part in a flow
	folded    foldedGroups
	// awaiting are the flows cut off by the end of input before an answer
	// could come (awaitsAnswer), placed at Report once their age at the
	// end of the capture is known; ends is each node's latest packet.
	// At most one per flow the capture's table held at the end (its
	// --max-flows bound), kept compact.
	awaiting  []flow.Packed
	awaitPack *flow.PackTable
	ends      map[string]time.Time
	// pendingLeft is, while settle places a pending flow, how much longer
	// the capture had to run for it to be judged (the evidence keeps the
	// longest: requirementNote's hint).
	pendingLeft time.Duration
	// srcs is the scanner test's source table; noise what it and the
	// backscatter rule set aside.
	srcs  *sourceTable
	noise noiseSum
	// cov counts the sides of the flows the capture holds (coverage.go).
	cov coverageAcc
}

// NewAuditor prepares an audit. It fails on unusable options: no product,
// a malformed peer in a catalog.
func NewAuditor(opts Options) (*Auditor, error) {
	if len(opts.Products) == 0 {
		return nil, errors.New("audit: no product to audit against")
	}
	a := &Auditor{opts: opts}
	a.base = Report{Schema: SchemaVersion, Zones: map[string][]netip.Prefix{}}
	features := map[string]bool{}
	if opts.Site != nil {
		for z, p := range opts.Site.Zones {
			a.base.Zones[z] = p
		}
		for k, v := range opts.Site.Features {
			features[k] = v
		}
	}
	for k, v := range opts.Features {
		features[k] = v
	}
	rules, err := compileRules(&a.base, opts, features)
	if err != nil {
		return nil, err
	}
	a.rules = rules
	a.idx = newRuleIndex(rules)
	d := opts.Gateway
	if d.Origin == capture.OriginNone {
		d = ResolveHosts(HostsInput{Flag: opts.Hosts, Site: opts.Site, SiteFile: opts.SiteFile})
	}
	if d.Origin == capture.OriginNone {
		a.infer = true
	} else {
		a.setHosts(d)
	}
	a.exempt = exemptPrefixes(rules, opts.Site)
	a.t = newTally(a)
	return a, nil
}

func (a *Auditor) setHosts(d capture.HostsDecision) {
	a.hs = newHostSet(d.Addrs)
	a.hosts = Hosts{Addrs: a.hs.sorted(), How: HostsHow(&d, HowReport), Inferred: d.Inferred(), Found: HostsFound(&d), From: d}
}

// withHosts returns a copy of a auditing with inferred hosts and nothing
// counted yet.
func (a *Auditor) withHosts(d capture.HostsDecision) *Auditor {
	b := *a
	b.infer, b.held, b.heldPack = false, nil, nil
	b.setHosts(d)
	b.t = newTally(&b)
	return &b
}

func newTally(a *Auditor) *tally {
	n := len(a.rules)
	t := &tally{evs: make([]*evidence, n), otherPeer: make([]int, n), hk: map[string]*Housekeeping{},
		unexp: map[unexpectedKey]*unexpectedAcc{}, nodes: map[string]bool{}, hostSeen: map[netip.Addr]bool{},
		ends: map[string]time.Time{}, awaitPack: flow.NewPackTable(), srcs: newSourceTable(a.opts.NoiseSources),
		noise: noiseSum{rules: make([]int, n), rulesBack: make([]int, n)}}
	for i := range t.evs {
		t.evs[i] = newEvidence(true)
	}
	return t
}

// Add audits one flow. It keeps nothing that f points to, so callers may
// reuse f (capture.Options.OnFlow does).
func (a *Auditor) Add(f *flow.Flow) {
	if a.infer {
		if a.heldPack == nil {
			a.heldPack = flow.NewPackTable()
		}
		if n := len(a.held); n == 0 || len(a.held[n-1]) == heldChunk {
			// Fixed chunks: no doubling and copying of one huge slice.
			a.held = append(a.held, make([]flow.Packed, 0, heldChunk))
		}
		last := &a.held[len(a.held)-1]
		*last = append(*last, a.heldPack.Pack(f))
		return
	}
	a.t.add(a, f)
}

// KeepsFlows reports whether the Auditor keeps a compact copy of every
// flow until Report, to infer the gateway addresses (none given): its
// memory then grows with the input. Otherwise what it holds is bounded by
// its options and the capture's flow table (docs/report.md).
func (a *Auditor) KeepsFlows() bool { return a.infer }

// Report returns the report for the flows added so far, with stats as the
// capture's evidence. It may be called again after more flows are added.
func (a *Auditor) Report(stats capture.Stats) *Report {
	if a.infer {
		b := a.withHosts(InferHosts(a.heldFlows()))
		for f := range a.heldFlows() {
			b.t.add(b, f)
		}
		return b.report(stats)
	}
	return a.report(stats)
}

// heldFlows iterates over the held flows, restored one at a time into
// the same scratch Flow.
func (a *Auditor) heldFlows() iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		var f flow.Flow
		for _, chunk := range a.held {
			for i := range chunk {
				a.heldPack.Unpack(&chunk[i], &f)
				if !yield(&f) {
					return
				}
			}
		}
	}
}

// add counts one flow, sets it aside as noise, or keeps it for Report:
// when it still awaited an answer at the end of input, or when the scanner
// test has not decided on its source yet.
func (t *tally) add(a *Auditor, f *flow.Flow) {
	if a.isReply(f) {
		g := reversed(f)
		f = &g
	}
	t.noteEnd(f)
	t.noteSides(a, f)
	src, screened := a.screened(f)
	switch {
	case screened && isBackscatter(f):
		t.setAside(a, f, src, backscatter)
	case awaitsAnswer(f):
		t.awaiting = append(t.awaiting, t.awaitPack.Pack(f))
	case screened:
		t.screen(a, f, src)
	default:
		t.place(a, f, false)
	}
}

// noteNode remembers the gateway node f was recorded on.
func (t *tally) noteNode(f *flow.Flow) {
	if f.Node != "" && !t.nodes[f.Node] {
		t.nodes[strings.Clone(f.Node)] = true
	}
}

// place counts one flow: housekeeping, transit, evidence for the
// requirement it counts for, or unexpected; pending says it is counted as
// pending rather than by its outcome. It reports whether the flow was
// audited (matched a requirement or is unexpected).
func (t *tally) place(a *Auditor, f *flow.Flow, pending bool) bool {
	t.flows++
	t.noteNode(f)
	if kind := housekeepingKind(f); kind != "" {
		h := t.hk[kind]
		if h == nil {
			h = &Housekeeping{Kind: kind}
			t.hk[kind] = h
		}
		h.Flows++
		h.Packets += f.OrigPkts + f.RespPkts
		return false
	}
	vs, nv := a.hs.views(f, &a.names)
	if nv == 0 {
		t.transit++
		return false
	}
	if len(t.hostSeen) < len(a.hs) {
		for _, v := range vs[:nv] {
			if v.dir == catalog.Out {
				t.hostSeen[f.Orig.Addr().Unmap()] = true
			} else {
				t.hostSeen[f.Resp.Addr().Unmap()] = true
			}
		}
	}
	t.judge(a, f, vs[:nv], pending)
	return true
}

// claim is a requirement a view of a flow matches (peer included),
// with what makes it specific for the flow.
type claim struct {
	hit      ruleHit
	v        view
	specific bool // a peer narrower than any allowed it
	width    int  // ports in the narrowest range holding the port
	ok       bool
}

// offer keeps hit when it is more specific for the flow than the
// claim kept so far: a peer narrower than any beats any, then the
// narrower port range, then the earlier requirement in catalog order.
func (c *claim) offer(hit ruleHit, v view, specific bool, width int) {
	if c.ok {
		switch {
		case specific != c.specific:
			if !specific {
				return
			}
		case width != c.width:
			if width > c.width {
				return
			}
		case hit.rule > c.hit.rule:
			return
		}
	}
	*c = claim{hit: hit, v: v, specific: specific, width: width, ok: true}
}

// judge counts a flow seen from the gateway (vs: one view, or two for a
// flow between two gateway addresses) for one requirement per view and
// product: the most specific applicable one (claim.offer). Only when no
// view has one is the flow unexpected, and then it is the evidence of the
// most specific not-applicable requirement that would allow it, if any.
// So a product never counts a flow twice on one side, and a
// not-applicable requirement never shows a flow an applicable one
// explains.
func (t *tally) judge(a *Auditor, f *flow.Flow, vs []view, pending bool) {
	allowed := false
	var na claim
	for _, v := range vs {
		var best claim
		for _, hit := range a.idx.lookup(f, v) {
			r := &a.rules[hit.rule]
			if best.ok && a.rules[best.hit.rule].product != r.product {
				// Hits come in rule order, products one after the other.
				allowed = true
				t.count(a, best, f, pending)
				best = claim{}
			}
			ok, specific := r.peerMatch(v.peer, v.names)
			switch {
			case !ok:
			case r.applies:
				best.offer(hit, v, specific, r.portWidth(v.port))
			default:
				na.offer(hit, v, specific, r.portWidth(v.port))
			}
		}
		if best.ok {
			allowed = true
			t.count(a, best, f, pending)
		}
	}
	if allowed {
		t.matched++
		return
	}
	if na.ok {
		t.count(a, na, f, pending)
	}
	peerNo, notApp := t.nearMisses(a, f, vs)
	t.unexpected(f, vs[0], pending, peerNo, notApp)
}

// count adds f, seen as c.v, to the evidence of c's requirement; an ICMP
// message other than echo is allowed by an ICMP requirement but is no
// evidence (ruleHit.counts).
func (t *tally) count(a *Auditor, c claim, f *flow.Flow, pending bool) {
	if !c.hit.counts {
		return
	}
	ev := t.evs[c.hit.rule]
	ev.oneway = a.rules[c.hit.rule].oneway
	ev.add(f, c.v, pending)
	if pending && t.pendingLeft > ev.pendingLeft {
		ev.pendingLeft = t.pendingLeft
	}
}

// nearMisses lists, for an unexpected flow, the applicable requirements
// whose peer constraint it fails (each counts it in other_peer_flows) and
// the not-applicable ones that would allow it.
func (t *tally) nearMisses(a *Auditor, f *flow.Flow, vs []view) (peerNo, notApp []string) {
	for _, v := range vs {
		for _, hit := range a.idx.lookup(f, v) {
			r := &a.rules[hit.rule]
			switch {
			case !r.peerOK(v.peer, v.names):
				t.otherPeer[hit.rule]++
				if r.applies {
					peerNo = append(peerNo, r.id)
				}
			case !r.applies:
				notApp = append(notApp, r.id)
			}
		}
	}
	return peerNo, notApp
}

// unexpected counts f, seen as v, in its unexpected group: peerNo lists the
// requirements whose peers it fails, notApp those that do not apply.
func (t *tally) unexpected(f *flow.Flow, v view, pending bool, peerNo, notApp []string) {
	proto := f.Proto
	if proto == flow.ProtoICMPv6 {
		proto = flow.ProtoICMP
	}
	key := unexpectedKey{out: v.dir == catalog.Out, proto: proto, port: v.port}
	u := t.unexp[key]
	if u == nil && len(t.unexp) >= MaxUnexpected {
		t.folded.add(key, f, pending)
		return
	}
	if u == nil {
		u = &unexpectedAcc{ev: newEvidence(false), peerNotAllowed: map[string]bool{}, notApplicable: map[string]bool{}}
		t.unexp[key] = u
	}
	u.ev.add(f, v, pending)
	for _, id := range peerNo {
		u.peerNotAllowed[id] = true
	}
	for _, id := range notApp {
		u.notApplicable[id] = true
	}
}

// report builds the Report from the tally; the tally stays usable.
func (a *Auditor) report(stats capture.Stats) *Report {
	cov := a.t.cov.report()
	t, pending := a.t.settle(a, stats.End, &cov)
	rep := a.base
	rep.Requirements = nonNil(slices.Clone(a.base.Requirements))
	rep.Products = nonNil(slices.Clone(a.base.Products))
	rep.Housekeeping = []Housekeeping{}
	rep.Hosts = a.hosts
	rep.Warnings = append([]string{}, sessionWarnings(&a.hosts.From)...)
	rep.Summary = Summary{Flows: t.flows, Matched: t.matched, Transit: t.transit}
	switch inferred := a.hosts.From.Origin == capture.OriginInferred; {
	case inferred && len(rep.Hosts.Addrs) == 0 && t.flows == 0:
		rep.Warnings = append(rep.Warnings, "there was no traffic to infer gateway addresses from: give --host or a site file")
	case inferred && len(rep.Hosts.Addrs) == 0:
		rep.Warnings = append(rep.Warnings, "no gateway address could be inferred from the traffic (no flow has a unicast "+
			"address other than loopback or link-local): give --host or a site file")
	case inferred:
		rep.Warnings = append(rep.Warnings, "gateway addresses were inferred from the traffic ("+
			text.Addrs(rep.Hosts.Addrs)+"): give --host or a site file to be sure")
	}
	rep.Coverage = &cov
	for i := range a.rules {
		finishRequirement(&rep.Requirements[i], &a.rules[i], t.evs[i], t.otherPeer[i], a.opts.Site, &cov)
		rep.Summary.count(rep.Requirements[i].Status)
	}
	rep.Summary.Requirements = len(rep.Requirements)
	rep.Unexpected = finishUnexpected(t.unexp, a.opts.Site, &cov)
	rep.Summary.Unexpected = len(rep.Unexpected)
	for _, u := range rep.Unexpected {
		rep.Summary.UnexpectedFlows += u.Counts.Flows
	}
	if len(t.folded.keys) > 0 {
		folded := t.folded.total(&cov)
		rep.UnexpectedFolded = &FoldedGroups{Groups: len(t.folded.keys), Counts: folded}
		rep.Summary.Unexpected += len(t.folded.keys)
		rep.Summary.UnexpectedFlows += folded.Flows
	}
	for _, k := range housekeepingKinds {
		if h := t.hk[k.kind]; h != nil {
			h.Text = k.text
			rep.Housekeeping = append(rep.Housekeeping, *h)
			rep.Summary.Housekeeping += h.Flows
		}
	}
	rep.Capture = captureSummary(&stats, sortedKeys(t.nodes))
	if pending > 0 {
		rep.Warnings = append(rep.Warnings, pendingWarning(pending, a.pendingWindow()))
	}
	rep.Warnings = append(rep.Warnings, coverageWarnings(&cov)...)
	rep.Warnings = append(rep.Warnings, foldWarnings(&rep)...)
	t.noise.report(&rep)
	rep.Warnings = append(rep.Warnings, zoneWarnings(a.rules)...)
	if rep.Capture.LossSeen {
		rep.Warnings = append(rep.Warnings, lossWarnings(&stats)...)
	}
	if w := localDropsWarning(&stats, &rep.Summary); w != "" {
		rep.Warnings = append(rep.Warnings, w)
	}
	switch {
	case t.transit > 0 && len(rep.Hosts.Addrs) == 0:
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d flow(s) were not audited: no gateway address is known to tell their direction", t.transit))
	case t.transit > 0:
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d flow(s) had no gateway address on either side (transit, not audited): are the gateway addresses (%s) complete?",
			t.transit, text.Addrs(rep.Hosts.Addrs)))
	}
	for _, h := range rep.Hosts.Addrs {
		if !t.hostSeen[h] && t.flows > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("gateway address %s takes part in no audited flow: is it right?", h))
		}
	}
	if t.flows == 0 {
		rep.Warnings = append(rep.Warnings, "the capture holds no flows: every applicable requirement is never-seen")
	}
	for _, name := range sortedKeys(a.opts.Features) {
		if _, used := rep.Features[name]; !used {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("feature %q is not a condition of any audited requirement", name))
		}
	}
	return &rep
}
