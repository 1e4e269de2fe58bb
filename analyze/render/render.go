// Package render turns an audit report (*analyze.Report) into documents
// for people: a terminal table, Markdown for tickets and change requests,
// and a self-contained HTML page. JSON is not here: it is the report's own
// encoding (docs/report.md).
//
// Every renderer is deterministic: the same report gives the same bytes.
// Times come from the report only (its capture and evidence times, and
// Report.Generated when the caller set it), never from the clock.
package render

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/catalog"
)

// Options tune the renderers.
type Options struct {
	// Color adds ANSI colours to the table. The caller sets it only when
	// the writer is a terminal (golang.org/x/term.IsTerminal): files and
	// pipes never get escape codes.
	Color bool
	// Width is the table's width in columns (the terminal's): text
	// columns and lines wrap to fit it, and below ListWidth every
	// requirement is a block of lines instead of a table row. 0 means no
	// limit: tables as wide as their cells, lines unwrapped.
	Width int
	// All lists the not-applicable requirements in full in every format;
	// otherwise they fold to one line (naFoldText).
	All bool
}

// ListWidth is the narrowest width that gets tables: below it the
// table report lists each requirement as a block of lines, since eight
// columns of 3 to 20 characters leave its reasons and peers too little
// room.
const ListWidth = 100

// maxPeers bounds the peers listed in one table or Markdown cell; the rest
// are counted ("+3 more"). The HTML page lists every peer.
const maxPeers = 3

// section is one part of a report. sections lists them in the order
// every format follows: what needs action first, then what is unknown,
// then what works, then what does not apply. A status a report lacks is
// skipped, so a new status is one line here (and its colours).
type section struct {
	status analyze.Status // a requirement status, or analyze.Unexpected
	title  string
	ansi   string // table colour
	// optional sections get no HTML summary card when empty.
	optional bool
}

var sections = []section{
	{status: analyze.Blocked, title: "Blocked", ansi: ansiRed},
	{status: analyze.Partial, title: "Partial", ansi: ansiYellow},
	{status: analyze.Unexpected, title: "Unexpected", ansi: ansiMagenta},
	{status: analyze.Inconclusive, title: "Inconclusive", ansi: ansiYellow, optional: true},
	{status: analyze.NeverSeen, title: "Never seen", ansi: ansiBlue},
	{status: analyze.OK, title: "OK", ansi: ansiGreen},
	{status: analyze.NotApplicable, title: "Not applicable", ansi: ansiDim},
}

// sectionOf returns the section of status st.
func sectionOf(st analyze.Status) section {
	for _, s := range sections {
		if s.status == st {
			return s
		}
	}
	return section{status: st, title: string(st)}
}

// statusTitle names a status in headings ("Never seen").
func statusTitle(st analyze.Status) string { return sectionOf(st).title }

// SummaryLine is the one-line verdict every format starts with:
// analyze.Summary.Line ("38 requirements: 21 ok, 4 blocked, 11 never seen,
// 2 not applicable; 3 unexpected"), plus the number of unexpected flows
// when it differs from the number of groups.
func SummaryLine(rep *analyze.Report) string {
	s := rep.Summary
	line := s.Line()
	if s.UnexpectedFlows != s.Unexpected {
		line += fmt.Sprintf(" (%s)", plural(s.UnexpectedFlows, "flow", "flows"))
	}
	return line
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// byStatus returns the report's requirements with status st, in report
// order.
func byStatus(rep *analyze.Report, st analyze.Status) []analyze.Requirement {
	var out []analyze.Requirement
	for _, r := range rep.Requirements {
		if r.Status == st {
			out = append(out, r)
		}
	}
	return out
}

// shortID drops the "product/" prefix when the report covers one product:
// the heading already names it, and the table gets narrower.
func shortID(rep *analyze.Report, id string) string {
	if len(rep.Products) == 1 {
		return strings.TrimPrefix(id, rep.Products[0].Name+"/")
	}
	return id
}

// reqPort renders "tcp/22", "udp/6277", "tcp/3306-3307", "tcp/80,443" or
// "icmp".
func reqPort(proto catalog.Protocol, ports []catalog.PortRange) string {
	if proto == catalog.ICMP || len(ports) == 0 {
		return string(proto)
	}
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = p.String()
	}
	return string(proto) + "/" + strings.Join(ps, ",")
}

// unexpectedPort renders an unexpected group's protocol and port; for ICMP
// the port is the message type.
func unexpectedPort(u analyze.UnexpectedFlow) string {
	switch {
	case u.Protocol == "icmp":
		return fmt.Sprintf("icmp type %d", u.Port)
	case u.Protocol == "tcp" || u.Protocol == "udp":
		return fmt.Sprintf("%s/%d", u.Protocol, u.Port)
	}
	return u.Protocol
}

// dirText says the direction for people.
func dirText(d catalog.Direction) string {
	switch d {
	case catalog.In:
		return "inbound"
	case catalog.Out:
		return "outbound"
	}
	return string(d)
}

// peerText renders "203.0.113.22 (update.example.test)"; more names than
// one are counted.
func peerText(p analyze.PeerSeen) string {
	s := p.Addr.String()
	switch len(p.Names) {
	case 0:
	case 1:
		s += " (" + p.Names[0] + ")"
	default:
		s += fmt.Sprintf(" (%s +%d)", p.Names[0], len(p.Names)-1)
	}
	return s
}

// peersList renders up to maxPeers peers and counts the rest, including
// those the report itself left out (omitted) and, approximately, those it
// folded (folded).
func peersList(ps []analyze.PeerSeen, omitted, folded int) []string {
	return peersListOf(ps, omitted, folded, false)
}

// peersWithOutcomes is peersList with each peer's outcomes, for partial
// requirements where it matters which peers failed.
func peersWithOutcomes(ps []analyze.PeerSeen, omitted, folded int) []string {
	return peersListOf(ps, omitted, folded, true)
}

func peersListOf(ps []analyze.PeerSeen, omitted, folded int, outcomes bool) []string {
	var out []string
	for i, p := range ps {
		if i == maxPeers {
			break
		}
		s := peerText(p)
		if outcomes {
			s += ": " + countsText(p.Counts)
		}
		out = append(out, s)
	}
	more := len(ps) - len(out) + omitted
	switch {
	case folded > 0:
		out = append(out, fmt.Sprintf("+%d more, and about %d folded", more, folded))
	case more > 0:
		out = append(out, fmt.Sprintf("+%d more", more))
	}
	return out
}

// foldedText says what an unexpected group's or requirement's folded
// peers amount to: "about 4903 other peers (5000000 flows: 5000000
// unanswered)"; "" when none were folded.
func foldedText(folded int, c *analyze.Counts) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("about %s (%s: %s)", plural(folded, "other peer", "other peers"), plural(c.Flows, "flow", "flows"), countsText(*c))
}

// noiseText is the one line the report gives internet noise: "3000
// inbound flows set aside, not judged: 3000 flows from 150 scanners;
// top ports tcp/22 (150), tcp/443 (150)"; "" when there was none.
func noiseText(n *analyze.Noise) string {
	if n == nil {
		return ""
	}
	s := plural(n.Flows, "inbound flow", "inbound flows") + " set aside, not judged"
	var kinds []string
	if k := n.Scanners; k.Flows > 0 {
		kinds = append(kinds, fmt.Sprintf("%s from %s", plural(k.Flows, "flow", "flows"), plural(k.Sources, "scanner", "scanners")))
	}
	if k := n.Backscatter; k.Flows > 0 {
		kinds = append(kinds, fmt.Sprintf("%s of backscatter (SYN-ACKs to spoofed sources, never acknowledged) from about %s",
			plural(k.Flows, "flow", "flows"), plural(k.Sources, "source", "sources")))
	}
	if len(kinds) > 0 {
		s += ": " + strings.Join(kinds, ", ")
	}
	if len(n.Ports) > 0 {
		ports := make([]string, len(n.Ports))
		for i, p := range n.Ports {
			ports[i] = fmt.Sprintf("%s/%d (%d)", p.Protocol, p.Port, p.Flows)
		}
		s += "; top ports " + strings.Join(ports, ", ")
	}
	if n.Overflow > 0 {
		s += fmt.Sprintf("; %s judged without the whole scanner test (its table was full)", plural(n.Overflow, "flow", "flows"))
	}
	return s
}

// unexpectedFoldedText counts the unexpected groups the report does not
// list; "" when it lists them all.
func unexpectedFoldedText(g *analyze.FoldedGroups) string {
	if g == nil {
		return ""
	}
	return fmt.Sprintf("%s more, not listed (%d per report), counted together: %s (%s)",
		plural(g.Groups, "group", "groups"), analyze.MaxUnexpected, plural(g.Counts.Flows, "flow", "flows"), countsText(g.Counts))
}

// allowedText renders a requirement's peer constraint: "zone:vendor-support,
// host:*.example.com".
func allowedText(ps []catalog.Peer) string {
	if len(ps) == 0 {
		return "any"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// outcomesText breaks flows down by outcome, failures by reason: "2
// established, 1 unanswered, 1 admin-prohibited".
func outcomesText(c analyze.Counts, reasons []analyze.ReasonCount) string {
	var parts []string
	if c.Established > 0 {
		parts = append(parts, fmt.Sprintf("%d established", c.Established))
	}
	listed := 0
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", r.Flows, r.Reason))
		listed += r.Flows
	}
	// Failures the reasons do not explain (none today) still show up.
	if rest := c.Failed() - listed; rest > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", rest))
	}
	if c.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown", c.Unknown))
	}
	if c.Inconclusive > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", c.Inconclusive, analyze.OutcomeInconclusive))
	}
	if c.Pending > 0 {
		parts = append(parts, fmt.Sprintf("%d pending", c.Pending))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// countsText breaks flows down by outcome only (peers carry no reasons):
// "1 established, 2 unanswered".
func countsText(c analyze.Counts) string {
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{c.Established, "established"}, {c.Rejected, "rejected"}, {c.Unreachable, "unreachable"},
		{c.Unanswered, "unanswered"}, {c.NotSent, "not sent (dropped by the gateway)"}, {c.Unknown, "unknown"}, {c.Inconclusive, analyze.OutcomeInconclusive}, {c.Pending, analyze.OutcomePending}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// reasonsText lists the failure reasons for people with their flow counts,
// in the report's order (most frequent first): "unanswered: dropped silently
// (2)", "rejected by RST (1)".
func reasonsText(r analyze.Requirement) []string {
	if len(r.Reasons) == 0 {
		if r.ReasonText != "" {
			return []string{r.ReasonText}
		}
		return []string{r.Reason.Text()}
	}
	parts := make([]string, len(r.Reasons))
	for i, rc := range r.Reasons {
		t := rc.Text
		if t == "" {
			t = rc.Reason.Text()
		}
		if len(rc.Detail) > 0 {
			t += " [" + strings.Join(rc.Detail, ", ") + "]"
		}
		parts[i] = fmt.Sprintf("%s (%d)", t, rc.Flows)
	}
	return parts
}

// reasonLines are the failure reasons (reasonsText), then a line for the
// pending flows the end of the capture cut off, which are no failure but
// must not go unseen next to them.
func reasonLines(r analyze.Requirement) []string {
	out := reasonsText(r)
	if r.Counts.Pending > 0 {
		out = append(out, fmt.Sprintf("pending: capture ended before an answer (%d)", r.Counts.Pending))
	}
	return out
}

// conditionText says why a requirement does not apply (or when it does).
func conditionText(c *catalog.Condition, features map[string]bool) string {
	if c == nil {
		return ""
	}
	on, set := features[c.Feature]
	if !set {
		on = c.Default
	}
	if on {
		return "feature " + c.Feature + " in use"
	}
	return "feature " + c.Feature + " not in use (--with " + c.Feature + ")"
}

// unexpectedNote says which requirements nearly allowed an unexpected group.
func unexpectedNote(u analyze.UnexpectedFlow) string {
	var parts []string
	if len(u.PeerNotAllowed) > 0 {
		parts = append(parts, "peer not allowed by "+strings.Join(u.PeerNotAllowed, ", "))
	}
	if len(u.NotApplicable) > 0 {
		parts = append(parts, "allowed only by not-applicable "+strings.Join(u.NotApplicable, ", "))
	}
	return strings.Join(parts, "; ")
}

// naFoldText is the one line not-applicable requirements fold to: "13
// not applicable: cluster (10), premium-support (3); --all to list",
// grouped by the feature that is off, most requirements first; a
// requirement without a feature condition is counted by why it does not
// apply, when the report says so. "" when there is none.
func naFoldText(rep *analyze.Report) string {
	count := map[string]int{}
	var order []string
	n := 0
	for _, r := range rep.Requirements {
		if r.Status != analyze.NotApplicable {
			continue
		}
		n++
		key := "no feature condition"
		switch {
		case r.Condition != nil:
			key = r.Condition.Feature
		case r.Note != "":
			key = r.Note
		}
		if count[key] == 0 {
			order = append(order, key)
		}
		count[key]++
	}
	if n == 0 {
		return ""
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(count[b], count[a]) })
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s (%d)", k, count[k])
	}
	return fmt.Sprintf("%d not applicable: %s; --all to list", n, strings.Join(parts, ", "))
}

// processText renders one program behind flows: "razor-check (pid 4121,
// 2 flows)", "razor-check (pids 4121, 4133 and others, 9 flows)".
func processText(p analyze.ProcessSeen) string {
	pids := make([]string, len(p.PIDs))
	for i, pid := range p.PIDs {
		pids[i] = strconv.FormatUint(uint64(pid), 10)
	}
	s := p.Comm + " (pid"
	if len(p.PIDs) > 1 || p.MorePIDs {
		s += "s"
	}
	s += " " + strings.Join(pids, ", ")
	if p.MorePIDs {
		s += " and others"
	}
	return s + ", " + plural(p.Flows, "flow", "flows") + ")"
}

// processList renders the programs of a requirement or group, one per
// entry, then the flows of programs not listed; nil when none.
func processList(ps []analyze.ProcessSeen, other int) []string {
	var out []string
	for _, p := range ps {
		out = append(out, processText(p))
	}
	if other > 0 {
		out = append(out, fmt.Sprintf("+%s of other programs", plural(other, "flow", "flows")))
	}
	return out
}
