package render

import (
	"fmt"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
)

// This file holds what the three diff renderers (DiffTable, DiffMarkdown,
// DiffHTML) share: titles, and the text of each side of a change.

// diffTitle names each diff category in headings.
var diffTitle = map[analyze.DiffCategory]string{
	analyze.DiffNewlyFailing:    "Newly failing",
	analyze.DiffNewlyUnexpected: "Newly unexpected",
	analyze.DiffStillFailing:    "Still failing",
	analyze.DiffStillUnexpected: "Still unexpected",
	analyze.DiffNoLongerSeen:    "No longer seen",
	analyze.DiffNotJudged:       "Not judged after",
	analyze.DiffFixed:           "Fixed",
	analyze.DiffNowOK:           "Now ok",
	analyze.DiffGoneUnexpected:  "Gone unexpected",
	analyze.DiffNeverSeen:       "Never seen in either",
	analyze.DiffStillOK:         "Still ok",
	analyze.DiffNotApplicable:   "Not applicable",
	analyze.DiffOnlyBefore:      "Only in the before report",
	analyze.DiffOnlyAfter:       "Only in the after report",
}

// diffHint says in a few words what a category means for the reader.
var diffHint = map[analyze.DiffCategory]string{
	analyze.DiffNewlyFailing:    "regression: worked or was not failing before, fails after",
	analyze.DiffNewlyUnexpected: "regression: flows no requirement allows, not seen before",
	analyze.DiffStillFailing:    "still needs a firewall change",
	analyze.DiffStillUnexpected: "unexpected before and after",
	analyze.DiffNoLongerSeen:    "nothing tried it after the change: neither a fix nor a regression is proven; capture again, for longer",
	analyze.DiffNotJudged:       "tried after the change but not judged: not fixed, not proven failing; capture again, for longer",
	analyze.DiffFixed:           "failing before, ok after",
	analyze.DiffNowOK:           "ok after, not seen failing before",
	analyze.DiffGoneUnexpected:  "unexpected before, not seen after",
	analyze.DiffNeverSeen:       "nothing tried it in either capture",
}

// diffRequirementSections are the categories shown as a table (or list)
// of requirements; diffUnexpectedSections those of unexpected groups.
// The others are one line each.
var (
	diffRequirementSections = []analyze.DiffCategory{analyze.DiffNewlyFailing, analyze.DiffStillFailing,
		analyze.DiffNoLongerSeen, analyze.DiffNotJudged, analyze.DiffFixed, analyze.DiffNowOK, analyze.DiffNeverSeen}
	diffUnexpectedSections = []analyze.DiffCategory{analyze.DiffNewlyUnexpected, analyze.DiffStillUnexpected, analyze.DiffGoneUnexpected}
)

// changesIn returns the diff's requirements in category c, in diff order.
func changesIn(d *analyze.Diff, c analyze.DiffCategory) []analyze.RequirementChange {
	var out []analyze.RequirementChange
	for _, r := range d.Requirements {
		if r.Category == c {
			out = append(out, r)
		}
	}
	return out
}

// groupsIn returns the diff's unexpected groups in category c.
func groupsIn(d *analyze.Diff, c analyze.DiffCategory) []analyze.UnexpectedChange {
	var out []analyze.UnexpectedChange
	for _, u := range d.Unexpected {
		if u.Category == c {
			out = append(out, u)
		}
	}
	return out
}

// diffSingleProduct is the one product both reports cover, or "".
func diffSingleProduct(d *analyze.Diff) string {
	b, a := d.Before.Products, d.After.Products
	if len(b) == 1 && len(a) == 1 && b[0].Name == a[0].Name {
		return b[0].Name
	}
	return ""
}

// diffShortID drops the "product/" prefix when both reports cover the
// same single product.
func diffShortID(d *analyze.Diff, id string) string {
	if p := diffSingleProduct(d); p != "" {
		return strings.TrimPrefix(id, p+"/")
	}
	return id
}

// diffProductsText names the products, once when both sides agree.
func diffProductsText(d *analyze.Diff) string {
	b, a := productsText(d.Before.Products), productsText(d.After.Products)
	if b == a {
		return a
	}
	return "before: " + b + "; after: " + a
}

// diffHostsText gives the gateway addresses, once when both sides used
// the same (how they were found may differ: the after side's words).
func diffHostsText(d *analyze.Diff) string {
	b, a := addrsText(d.Before.Hosts.Addrs), addrsText(d.After.Hosts.Addrs)
	if b == a {
		return hostsText(d.After.Hosts)
	}
	return "before: " + hostsText(d.Before.Hosts) + "; after: " + hostsText(d.After.Hosts)
}

// stateRequirement rebuilds the report fields the report renderers' text
// helpers read (reasonLines, peersList...) from one side of a change.
func stateRequirement(s *analyze.RequirementState) analyze.Requirement {
	return analyze.Requirement{Status: s.Status, Reason: s.Reason, ReasonText: s.ReasonText, Reasons: s.Reasons,
		Counts: s.Counts, Peers: s.Peers, PeersOmitted: s.PeersOmitted, PeersFolded: s.PeersFolded, Note: s.Note}
}

// stateLines says what one side of a change was: the status, then for a
// failure its reasons with flow counts, for ok the flows, and any note
// (pending attempts). "-" when the side's report lacks the requirement.
func stateLines(s *analyze.RequirementState) []string {
	if s == nil {
		return []string{"-"}
	}
	out := []string{string(s.Status)}
	switch s.Status {
	case analyze.Blocked, analyze.Partial:
		out = append(out, reasonLines(stateRequirement(s))...)
		return out
	case analyze.OK:
		out = append(out, plural(s.Counts.Flows, "flow", "flows"))
	}
	if s.Note != "" {
		out = append(out, s.Note)
	}
	return out
}

// afterLines is stateLines for the after side. For a requirement still
// failing it says whether the reason changed, and gives the reasons only
// when they did: the before side shows them already.
func afterLines(c analyze.RequirementChange) []string {
	out := stateLines(c.After)
	if c.Category != analyze.DiffStillFailing {
		return out
	}
	if !c.ReasonChanged {
		return []string{out[0], "same reason"}
	}
	return append([]string{out[0], "reason changed"}, out[1:]...)
}

// changePeers lists the peers that matter for a change: those seen after
// (with their outcomes when partial), or before when nothing was seen
// after. The header says which side.
func changePeers(c analyze.RequirementChange) (side string, lines []string) {
	s, side := c.After, "after"
	if c.Category == analyze.DiffNoLongerSeen || s == nil {
		s, side = c.Before, "before"
	}
	if s == nil {
		return side, nil
	}
	if s.Status == analyze.Partial {
		return side, peersWithOutcomes(s.Peers, s.PeersOmitted, s.PeersFolded)
	}
	return side, peersList(s.Peers, s.PeersOmitted, s.PeersFolded)
}

// groupLines says what an unexpected group was on one side: its flows
// and their outcomes; "-" when it was not unexpected there.
func groupLines(s *analyze.UnexpectedState) []string {
	if s == nil {
		return []string{"-"}
	}
	return []string{plural(s.Counts.Flows, "flow", "flows") + ": " + outcomesText(s.Counts, s.Reasons)}
}

// groupPeers lists an unexpected group's peers, after the change when it
// was seen then.
func groupPeers(u analyze.UnexpectedChange) []string {
	s := u.After
	if s == nil {
		s = u.Before
	}
	if s == nil {
		return nil
	}
	return peersList(s.Peers, s.PeersOmitted, s.PeersFolded)
}

// groupPort is an unexpected group's "tcp/6667" (or "icmp type 8").
func groupPort(u analyze.UnexpectedChange) string {
	return unexpectedPort(analyze.UnexpectedFlow{Protocol: u.Protocol, Port: u.Port})
}

// groupNote says which requirements nearly allowed the group, after the
// change when it was seen then.
func groupNote(u analyze.UnexpectedChange) string {
	s := u.After
	if s == nil {
		s = u.Before
	}
	if s == nil {
		return ""
	}
	return unexpectedNote(analyze.UnexpectedFlow{PeerNotAllowed: s.PeerNotAllowed, NotApplicable: s.NotApplicable})
}

// idsText lists requirements by ID: "in-tcp-22-ssh, in-tcp-25-smtp".
func idsText(d *analyze.Diff, cs []analyze.RequirementChange) string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = diffShortID(d, c.ID)
	}
	return strings.Join(ids, ", ")
}

// stillOKText is the one line for requirements ok on both sides; "" when
// there are none.
func stillOKText(d *analyze.Diff) string {
	cs := changesIn(d, analyze.DiffStillOK)
	if len(cs) == 0 {
		return ""
	}
	return fmt.Sprintf("Still ok (%d): %s", len(cs), idsText(d, cs))
}

// notApplicableText is the one line for requirements not compared
// because their feature is off: a count, plus those applicable on one
// side only; "" when there are none.
func notApplicableText(d *analyze.Diff) string {
	cs := changesIn(d, analyze.DiffNotApplicable)
	if len(cs) == 0 {
		return ""
	}
	s := fmt.Sprintf("Not applicable (not compared): %s", plural(len(cs), "requirement", "requirements"))
	var oneSide []string
	for _, c := range cs {
		if c.Before.Status != c.After.Status {
			side := "before"
			if c.After.Status == analyze.NotApplicable {
				side = "after"
			}
			oneSide = append(oneSide, fmt.Sprintf("%s (not applicable %s only)", diffShortID(d, c.ID), side))
		}
	}
	if len(oneSide) > 0 {
		s += fmt.Sprintf("; %d of them on one side only: %s", len(oneSide), strings.Join(oneSide, ", "))
	}
	return s
}

// onlyText is the line listing the requirements only one report has; ""
// when there are none.
func onlyText(d *analyze.Diff, c analyze.DiffCategory) string {
	cs := changesIn(d, c)
	if len(cs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s (%d, not compared): %s", diffTitle[c], len(cs), idsText(d, cs))
}

// diffFooter are the one-line categories, in order.
func diffFooter(d *analyze.Diff) []string {
	var out []string
	for _, s := range []string{stillOKText(d), notApplicableText(d), onlyText(d, analyze.DiffOnlyBefore), onlyText(d, analyze.DiffOnlyAfter)} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
