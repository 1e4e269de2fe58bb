package analyze

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/catalog"
)

// DiffSchemaVersion is the value of Diff.Schema. As with SchemaVersion,
// adding fields keeps the version; removing one or changing its meaning
// changes it.
const DiffSchemaVersion = "flowaudit.diff/v1"

// DiffCategory says how a requirement or an unexpected group changed
// between two reports (before and after a change). Values are stable
// strings; docs/report.md gives the exact rules.
type DiffCategory string

// Diff categories, in the order every format lists them: regressions
// first, then what still needs work, then what got better, then what
// stayed quiet.
const (
	// DiffNewlyFailing: blocked or partial after, and not failing before
	// (ok, never-seen or not judged). A regression.
	DiffNewlyFailing DiffCategory = "newly-failing"
	// DiffNewlyUnexpected: an unexpected group (direction, protocol,
	// port) only after. A regression.
	DiffNewlyUnexpected DiffCategory = "newly-unexpected"
	// DiffStillFailing: blocked or partial on both sides (the reason may
	// have changed: RequirementChange.ReasonChanged).
	DiffStillFailing DiffCategory = "still-failing"
	// DiffStillUnexpected: an unexpected group on both sides.
	DiffStillUnexpected DiffCategory = "still-unexpected"
	// DiffNoLongerSeen: never-seen after, while before it was judged (ok,
	// blocked, partial) or tried (not judged). Nothing tried it after the
	// change, which proves neither a fix nor a regression.
	DiffNoLongerSeen DiffCategory = "no-longer-seen"
	// DiffNotJudged: after, it was tried but not judged (the status
	// "inconclusive", or any status this version does not know). A
	// requirement blocked before and not judged after is not fixed.
	DiffNotJudged DiffCategory = "not-judged"
	// DiffFixed: blocked or partial before, ok after.
	DiffFixed DiffCategory = "fixed"
	// DiffNowOK: ok after, never-seen or not judged before: it works, but
	// it was not known to fail.
	DiffNowOK DiffCategory = "now-ok"
	// DiffGoneUnexpected: an unexpected group only before.
	DiffGoneUnexpected DiffCategory = "gone-unexpected"
	// DiffNeverSeen: never-seen on both sides.
	DiffNeverSeen DiffCategory = "never-seen"
	// DiffStillOK: ok on both sides.
	DiffStillOK DiffCategory = "still-ok"
	// DiffNotApplicable: not-applicable on at least one side: not
	// compared (its feature is off; on one side only when the two audits
	// used different features).
	DiffNotApplicable DiffCategory = "not-applicable"
	// DiffOnlyBefore and DiffOnlyAfter: the requirement is in one report
	// only (other products or catalogs): not compared.
	DiffOnlyBefore DiffCategory = "only-before"
	DiffOnlyAfter  DiffCategory = "only-after"
)

// DiffCategories lists every category in output order.
var DiffCategories = []DiffCategory{
	DiffNewlyFailing, DiffNewlyUnexpected, DiffStillFailing, DiffStillUnexpected, DiffNoLongerSeen, DiffNotJudged,
	DiffFixed, DiffNowOK, DiffGoneUnexpected, DiffNeverSeen, DiffStillOK, DiffNotApplicable, DiffOnlyBefore, DiffOnlyAfter,
}

// DefaultDiffFailOn are the categories that make `flowaudit diff` exit
// with status 1 unless --fail-on says otherwise: the regressions.
var DefaultDiffFailOn = []DiffCategory{DiffNewlyFailing, DiffNewlyUnexpected}

// ParseDiffCategory accepts a category name as written in diffs ("_" for
// "-" as a convenience).
func ParseDiffCategory(s string) (DiffCategory, bool) {
	c := DiffCategory(strings.ReplaceAll(s, "_", "-"))
	return c, slices.Contains(DiffCategories, c)
}

// Diff compares two audit reports of one gateway, before and after a
// change (schema "flowaudit.diff/v1", docs/report.md). Every requirement
// of either report appears once in Requirements, every unexpected group
// of either once in Unexpected, each with its category; both lists are in
// a fixed order, so equal reports give byte-identical JSON.
type Diff struct {
	Schema    string    `json:"schema"`
	Tool      string    `json:"tool,omitempty"`     // set by the caller
	Generated time.Time `json:"generated,omitzero"` // set by the caller; zero is omitted

	Summary DiffSummary `json:"summary"`
	Before  DiffSide    `json:"before"`
	After   DiffSide    `json:"after"`
	// Mismatch says in one line how the two reports' requirements differ
	// (products, catalogs); empty when they were audited against the same
	// ones. Only requirements in both are compared.
	Mismatch string `json:"mismatch,omitempty"`
	// Warnings are what the reader must know to trust the comparison:
	// different gateway addresses or features, loss on either side.
	Warnings     []string            `json:"warnings"`
	Requirements []RequirementChange `json:"requirements"`
	Unexpected   []UnexpectedChange  `json:"unexpected"`
}

// DiffSummary counts requirements (and unexpected groups, for the
// *_unexpected fields) per category. Compared counts the requirements in
// both reports and applicable on both sides; Regressions is NewlyFailing
// plus NewlyUnexpected.
type DiffSummary struct {
	Compared        int `json:"compared"`
	Regressions     int `json:"regressions"`
	NewlyFailing    int `json:"newly_failing"`
	NewlyUnexpected int `json:"newly_unexpected"`
	StillFailing    int `json:"still_failing"`
	StillUnexpected int `json:"still_unexpected"`
	NoLongerSeen    int `json:"no_longer_seen"`
	NotJudged       int `json:"not_judged"`
	Fixed           int `json:"fixed"`
	NowOK           int `json:"now_ok"`
	GoneUnexpected  int `json:"gone_unexpected"`
	NeverSeen       int `json:"never_seen"`
	StillOK         int `json:"still_ok"`
	NotApplicable   int `json:"not_applicable"`
	OnlyBefore      int `json:"only_before"`
	OnlyAfter       int `json:"only_after"`
}

// field returns the counter of category c.
func (s *DiffSummary) field(c DiffCategory) *int {
	return map[DiffCategory]*int{
		DiffNewlyFailing: &s.NewlyFailing, DiffNewlyUnexpected: &s.NewlyUnexpected, DiffStillFailing: &s.StillFailing,
		DiffStillUnexpected: &s.StillUnexpected, DiffNoLongerSeen: &s.NoLongerSeen, DiffNotJudged: &s.NotJudged,
		DiffFixed: &s.Fixed, DiffNowOK: &s.NowOK, DiffGoneUnexpected: &s.GoneUnexpected, DiffNeverSeen: &s.NeverSeen,
		DiffStillOK: &s.StillOK, DiffNotApplicable: &s.NotApplicable, DiffOnlyBefore: &s.OnlyBefore, DiffOnlyAfter: &s.OnlyAfter,
	}[c]
}

// Count returns how many requirements or unexpected groups are in c.
func (s DiffSummary) Count(c DiffCategory) int {
	if p := s.field(c); p != nil {
		return *p
	}
	return 0
}

// Line is the one-line verdict diffs start with: "after the change: 2
// fixed, 1 newly failing, 4 still failing, 1 newly unexpected", then the
// other changes that happened ("1 no longer seen, 1 gone unexpected").
// The first four are always given: "0 newly failing" is the news a
// maintenance window hopes for.
func (s DiffSummary) Line() string {
	parts := []string{
		fmt.Sprintf("%d fixed", s.Fixed), fmt.Sprintf("%d newly failing", s.NewlyFailing),
		fmt.Sprintf("%d still failing", s.StillFailing), fmt.Sprintf("%d newly unexpected", s.NewlyUnexpected),
	}
	for _, x := range []struct {
		n    int
		what string
	}{{s.NoLongerSeen, "no longer seen"}, {s.NotJudged, "not judged"}, {s.NowOK, "now ok"}, {s.GoneUnexpected, "gone unexpected"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	return "after the change: " + strings.Join(parts, ", ")
}

// DiffSide describes one of the two reports: what was audited, against
// what, and the capture's window. File and Kind are set by the caller.
type DiffSide struct {
	File string `json:"file"`
	// Kind is "report" (a JSON report read back) or "session" (a session
	// audited for the diff).
	Kind     string           `json:"kind"`
	Products []ProductSummary `json:"products"`
	Hosts    Hosts            `json:"hosts"`
	Features map[string]bool  `json:"features"`
	Summary  Summary          `json:"summary"`
	Capture  CaptureSummary   `json:"capture"`
}

// RequirementChange is one requirement in a diff: its identity (from the
// after report, else the before one), its category and its state on each
// side (nil on a side whose report does not have it).
type RequirementChange struct {
	Category  DiffCategory        `json:"category"`
	Product   string              `json:"product"`
	ID        string              `json:"id"`
	Direction catalog.Direction   `json:"direction"`
	Protocol  catalog.Protocol    `json:"protocol"`
	Ports     []catalog.PortRange `json:"ports"`
	Service   string              `json:"service"`
	Allowed   []catalog.Peer      `json:"allowed"`
	// ReasonChanged is true for a still-failing requirement whose main
	// reason or set of failure reasons differs between the two sides.
	ReasonChanged bool `json:"reason_changed,omitempty"`
	// DefinitionChanged is true when the two reports' catalogs define the
	// requirement differently (direction, protocol, ports, peers,
	// condition): it is compared all the same, and Mismatch counts it.
	DefinitionChanged bool              `json:"definition_changed,omitempty"`
	Before            *RequirementState `json:"before"`
	After             *RequirementState `json:"after"`
}

// RequirementState is a requirement's verdict and evidence on one side,
// the fields as in the report.
type RequirementState struct {
	Status       Status        `json:"status"`
	Reason       Reason        `json:"reason"`
	ReasonText   string        `json:"reason_text"`
	Reasons      []ReasonCount `json:"reasons"`
	Counts       Counts        `json:"counts"`
	Peers        []PeerSeen    `json:"peers"`
	PeersOmitted int           `json:"peers_omitted"`
	PeersFolded  int           `json:"peers_folded,omitempty"`
	FirstSeen    *time.Time    `json:"first_seen"`
	LastSeen     *time.Time    `json:"last_seen"`
	Note         string        `json:"note,omitempty"`
}

// UnexpectedChange is one unexpected group (direction, protocol, port) in
// a diff, with its state on each side (nil where it was not unexpected).
type UnexpectedChange struct {
	Category  DiffCategory      `json:"category"`
	Direction catalog.Direction `json:"direction"`
	Protocol  string            `json:"protocol"`
	Port      uint16            `json:"port"`
	Before    *UnexpectedState  `json:"before"`
	After     *UnexpectedState  `json:"after"`
}

// UnexpectedState is an unexpected group's evidence on one side, the
// fields as in the report.
type UnexpectedState struct {
	Counts         Counts        `json:"counts"`
	Outcomes       []string      `json:"outcomes"`
	Reasons        []ReasonCount `json:"reasons"`
	Peers          []PeerSeen    `json:"peers"`
	PeersOmitted   int           `json:"peers_omitted"`
	PeersFolded    int           `json:"peers_folded,omitempty"`
	FirstSeen      time.Time     `json:"first_seen"`
	LastSeen       time.Time     `json:"last_seen"`
	PeerNotAllowed []string      `json:"peer_not_allowed"`
	NotApplicable  []string      `json:"not_applicable"`
}

// Regressions counts the requirements and unexpected groups whose
// category is in failOn. A non-zero result means exit status 1.
func (d *Diff) Regressions(failOn []DiffCategory) int {
	n := 0
	seen := map[DiffCategory]bool{}
	for _, c := range failOn {
		if !seen[c] {
			seen[c] = true
			n += d.Summary.Count(c)
		}
	}
	return n
}

// Compare diffs two reports of one gateway: before and after a change.
// Neither report is modified; the diff quotes their evidence (peers,
// reasons) without copying it, so the reports must not be modified while
// the diff is in use.
func Compare(before, after *Report) *Diff {
	d := &Diff{Schema: DiffSchemaVersion, Before: diffSideOf(before), After: diffSideOf(after),
		Requirements: diffList(diffRequirements(before, after)), Unexpected: diffUnexpected(before, after)}
	for _, r := range d.Requirements {
		(*d.Summary.field(r.Category))++
		switch r.Category {
		case DiffNotApplicable, DiffOnlyBefore, DiffOnlyAfter:
		default:
			d.Summary.Compared++
		}
	}
	for _, u := range d.Unexpected {
		(*d.Summary.field(u.Category))++
	}
	d.Summary.Regressions = d.Summary.NewlyFailing + d.Summary.NewlyUnexpected
	d.Mismatch = diffMismatch(before, after, d)
	d.Warnings = diffWarnings(before, after)
	return d
}

func diffSideOf(r *Report) DiffSide {
	s := DiffSide{Products: diffList(r.Products), Hosts: r.Hosts, Features: r.Features, Summary: r.Summary, Capture: r.Capture}
	if s.Features == nil {
		s.Features = map[string]bool{}
	}
	if s.Hosts.Addrs == nil {
		s.Hosts.Addrs = []netip.Addr{}
	}
	c := &s.Capture
	c.Files, c.Loss, c.Nodes, c.Warnings = diffList(c.Files), diffList(c.Loss), diffList(c.Nodes), diffList(c.Warnings)
	return s
}

// diffClass groups statuses the way a diff reads them. Statuses this
// version does not know (the coming "inconclusive": tried, not judged)
// are not judged: they neither fix nor break anything.
type diffClass int

const (
	classNotJudged diffClass = iota
	classFailing
	classOK
	classNeverSeen
	classNotApplicable
)

func diffClassOf(s Status) diffClass {
	switch s {
	case Blocked, Partial:
		return classFailing
	case OK:
		return classOK
	case NeverSeen:
		return classNeverSeen
	case NotApplicable:
		return classNotApplicable
	}
	return classNotJudged
}

// Categorize is the rule behind a requirement's category, from its status
// before and after (docs/report.md, "Comparing two reports").
func Categorize(before, after Status) DiffCategory {
	b, a := diffClassOf(before), diffClassOf(after)
	switch {
	case b == classNotApplicable || a == classNotApplicable:
		return DiffNotApplicable
	case a == classFailing && b == classFailing:
		return DiffStillFailing
	case a == classFailing:
		return DiffNewlyFailing
	case a == classOK && b == classFailing:
		return DiffFixed
	case a == classOK && b == classOK:
		return DiffStillOK
	case a == classOK:
		return DiffNowOK
	case a == classNeverSeen && b == classNeverSeen:
		return DiffNeverSeen
	case a == classNeverSeen:
		return DiffNoLongerSeen
	}
	return DiffNotJudged
}

// diffRequirements pairs requirements by ID: in the after report's
// order, then those only before in the before report's order, each
// category's entries together in DiffCategories order.
func diffRequirements(before, after *Report) []RequirementChange {
	prev := map[string]*Requirement{}
	for i := range before.Requirements {
		prev[before.Requirements[i].ID] = &before.Requirements[i]
	}
	var out []RequirementChange
	inAfter := map[string]bool{}
	for i := range after.Requirements {
		a := &after.Requirements[i]
		inAfter[a.ID] = true
		c := diffChangeOf(a)
		c.After = diffStateOf(a)
		b := prev[a.ID]
		if b == nil {
			c.Category = DiffOnlyAfter
			out = append(out, c)
			continue
		}
		c.Before = diffStateOf(b)
		c.Category = Categorize(b.Status, a.Status)
		c.DefinitionChanged = !diffSameDefinition(b, a)
		c.ReasonChanged = c.Category == DiffStillFailing && diffReasonChanged(b, a)
		out = append(out, c)
	}
	for i := range before.Requirements {
		b := &before.Requirements[i]
		if !inAfter[b.ID] {
			c := diffChangeOf(b)
			c.Before, c.Category = diffStateOf(b), DiffOnlyBefore
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(x, y RequirementChange) int {
		return cmp.Compare(slices.Index(DiffCategories, x.Category), slices.Index(DiffCategories, y.Category))
	})
	return out
}

func diffChangeOf(r *Requirement) RequirementChange {
	return RequirementChange{Product: r.Product, ID: r.ID, Direction: r.Direction, Protocol: r.Protocol,
		Ports: diffList(r.Ports), Service: r.Service, Allowed: diffList(r.Allowed)}
}

func diffStateOf(r *Requirement) *RequirementState {
	return &RequirementState{Status: r.Status, Reason: r.Reason, ReasonText: r.ReasonText, Reasons: diffList(r.Reasons),
		Counts: r.Counts, Peers: diffList(r.Peers), PeersOmitted: r.PeersOmitted, PeersFolded: r.PeersFolded,
		FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Note: r.Note}
}

// diffList keeps JSON lists [] rather than null, as reports write them.
func diffList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// diffSameDefinition reports whether two reports' catalogs define a
// requirement alike: what decides which flows it judges and whether it
// applies.
func diffSameDefinition(a, b *Requirement) bool {
	return a.Direction == b.Direction && a.Protocol == b.Protocol && a.OneWay == b.OneWay &&
		slices.Equal(a.Ports, b.Ports) && slices.Equal(a.Allowed, b.Allowed) &&
		(a.Condition == nil) == (b.Condition == nil) && (a.Condition == nil || *a.Condition == *b.Condition)
}

// diffReasonChanged reports whether the main failure reason, or the set of
// failure reasons, differs.
func diffReasonChanged(b, a *Requirement) bool {
	return b.Reason != a.Reason || !slices.Equal(diffReasonSet(b), diffReasonSet(a))
}

func diffReasonSet(r *Requirement) []Reason {
	var out []Reason
	for _, rc := range r.Reasons {
		out = append(out, rc.Reason)
	}
	if len(out) == 0 && r.Reason != "" {
		out = append(out, r.Reason)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// diffGroupKey identifies an unexpected group across reports.
type diffGroupKey struct {
	dir   catalog.Direction
	proto string
	port  uint16
}

func diffGroupKeyOf(u *UnexpectedFlow) diffGroupKey {
	return diffGroupKey{u.Direction, u.Protocol, u.Port}
}

// diffUnexpected pairs unexpected groups by direction, protocol and
// port: newly unexpected, still unexpected, gone, each sorted as reports
// sort groups (direction, protocol, port).
func diffUnexpected(before, after *Report) []UnexpectedChange {
	groups := map[diffGroupKey]*UnexpectedChange{}
	get := func(u *UnexpectedFlow) *UnexpectedChange {
		k := diffGroupKeyOf(u)
		if groups[k] == nil {
			groups[k] = &UnexpectedChange{Direction: u.Direction, Protocol: u.Protocol, Port: u.Port}
		}
		return groups[k]
	}
	for i := range before.Unexpected {
		get(&before.Unexpected[i]).Before = diffUnexpectedOf(&before.Unexpected[i])
	}
	for i := range after.Unexpected {
		get(&after.Unexpected[i]).After = diffUnexpectedOf(&after.Unexpected[i])
	}
	out := make([]UnexpectedChange, 0, len(groups))
	for _, g := range groups {
		switch {
		case g.Before == nil:
			g.Category = DiffNewlyUnexpected
		case g.After == nil:
			g.Category = DiffGoneUnexpected
		default:
			g.Category = DiffStillUnexpected
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(x, y UnexpectedChange) int {
		return cmp.Or(cmp.Compare(slices.Index(DiffCategories, x.Category), slices.Index(DiffCategories, y.Category)),
			cmp.Compare(x.Direction, y.Direction), cmp.Compare(x.Protocol, y.Protocol), cmp.Compare(x.Port, y.Port))
	})
	return out
}

func diffUnexpectedOf(u *UnexpectedFlow) *UnexpectedState {
	return &UnexpectedState{Counts: u.Counts, Outcomes: diffList(u.Outcomes), Reasons: diffList(u.Reasons), Peers: diffList(u.Peers),
		PeersOmitted: u.PeersOmitted, PeersFolded: u.PeersFolded, FirstSeen: u.FirstSeen, LastSeen: u.LastSeen,
		PeerNotAllowed: diffList(u.PeerNotAllowed), NotApplicable: diffList(u.NotApplicable)}
}

// diffMismatch is the one line saying how the reports' requirements differ,
// or "" when they were audited against the same ones.
func diffMismatch(before, after *Report, d *Diff) string {
	var parts []string
	pb, pa := diffProducts(before.Products), diffProducts(after.Products)
	if pb != pa {
		parts = append(parts, fmt.Sprintf("products %s before, %s after", pb, pa))
	}
	changed := 0
	for _, r := range d.Requirements {
		if r.DefinitionChanged {
			changed++
		}
	}
	for _, x := range []struct {
		n    int
		what string
	}{{d.Summary.OnlyBefore, "only before"}, {d.Summary.OnlyAfter, "only after"}, {changed, "defined differently (catalogs differ)"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s %s", x.n, diffNoun(x.n), x.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	both := len(d.Requirements) - d.Summary.OnlyBefore - d.Summary.OnlyAfter
	return fmt.Sprintf("the two reports were audited against different requirements (%s): comparing the %d %s in both",
		strings.Join(parts, "; "), both, diffNoun(both))
}

func diffNoun(n int) string {
	if n == 1 {
		return "requirement"
	}
	return "requirements"
}

// diffProducts lists product names, sorted: the order they were given in
// does not change what was audited.
func diffProducts(ps []ProductSummary) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// diffWarnings says what may make the comparison unfair: the gateway's
// addresses or the features differ, or a capture saw loss.
func diffWarnings(before, after *Report) []string {
	ws := []string{}
	if hb, ha := diffAddrs(before.Hosts), diffAddrs(after.Hosts); hb != ha {
		ws = append(ws, fmt.Sprintf("the gateway addresses differ (before %s, after %s): flows may be judged in different directions", hb, ha))
	}
	if fb, fa := diffFeatures(before.Features), diffFeatures(after.Features); fb != fa {
		ws = append(ws, fmt.Sprintf("the features differ (before %s, after %s): requirements not applicable on one side are not compared", fb, fa))
	}
	for _, s := range []struct {
		side string
		c    CaptureSummary
	}{{"before", before.Capture}, {"after", after.Capture}} {
		if s.c.LossSeen {
			ws = append(ws, fmt.Sprintf("the %s capture saw loss (%s): its never-seen verdicts may be wrong", s.side, strings.Join(s.c.Loss, "; ")))
		}
	}
	return ws
}

func diffAddrs(h Hosts) string {
	s := make([]string, len(h.Addrs))
	for i, a := range h.Addrs {
		s[i] = a.String()
	}
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// diffFeatures writes the features that are on: a feature off and a
// feature not named read the same.
func diffFeatures(f map[string]bool) string {
	var on []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if f[k] {
			on = append(on, k)
		}
	}
	if len(on) == 0 {
		return "none on"
	}
	return strings.Join(on, ", ") + " on"
}
