package render

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// Markdown writes the report for a ticket or a change request: the
// summary, a "needs a firewall change" list with one actionable line per
// blocked or partial requirement (direction, protocol/port, peers, reason,
// the vendor's words), then a table per section in order of urgency
// (sections), the not-applicable requirements folded to one line unless
// opts.All, and the evidence coverage. Text from the report is escaped
// so that names and vendor quotes cannot break the layout.
func Markdown(w io.Writer, rep *analyze.Report, opts Options) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

	p("# flowaudit report: %s", mdText(productNames(rep.Products)))
	p("")
	p("**%s**", mdText(SummaryLine(rep)))
	p("")
	p("- Products: %s", mdText(productsText(rep.Products)))
	p("- Gateway: %s", mdText(hostsText(rep.Hosts)))
	if r := rep.RecordedText(); r != "" {
		p("- Inputs: %s", mdText(r))
	}
	p("- Capture: %s", mdText(coverageText(rep.Capture)))
	if sd := sidesText(rep.Coverage); sd != "" {
		p("- Sides: %s", mdText(sd))
	}
	if ld := localDropsText(rep.Capture); ld != "" {
		p("- Local drops: %s", mdText(ld))
	}
	if !rep.Generated.IsZero() {
		p("- Generated: %s", stamp(rep.Generated))
	}
	if rep.Tool != "" {
		p("- Tool: %s", mdText(rep.Tool))
	}
	if l := lossText(rep.Capture); l != "" {
		p("")
		p("> **Warning: capture loss.** %s", mdText(l))
	}
	if ws := warnings(rep); len(ws) > 0 {
		p("")
		for i, warn := range ws {
			if i > 0 {
				p("")
			}
			p("> Warning: %s", mdText(warn))
		}
	}
	mdActions(b, rep)
	for _, s := range sections {
		mdSection(b, rep, s, opts.All)
	}
	p("")
	p("## Coverage")
	p("")
	c := rep.Capture
	p("- Evidence: %s", mdText(coverageText(c)))
	loss := "none"
	if c.LossSeen {
		loss = lossText(c)
	}
	p("- Loss signals: %s", mdText(loss))
	p("- Flows: %d read, %d matched a requirement, %d transit, %d housekeeping",
		rep.Summary.Flows, rep.Summary.Matched, rep.Summary.Transit, rep.Summary.Housekeeping)
	p("- Housekeeping (link-local, not audited): %s", mdText(housekeepingText(rep.Housekeeping)))
	if a := rep.Capture.Attribution; a != "" {
		p("- Process attribution: %s", mdText(a))
	}
	return b.Flush()
}

// mdActions writes "Needs a firewall change": one numbered line per
// blocked or partial requirement.
func mdActions(b *bufio.Writer, rep *analyze.Report) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("")
	p("## Needs a firewall change")
	p("")
	actions := 0
	for _, st := range []analyze.Status{analyze.Blocked, analyze.Partial} {
		for _, r := range byStatus(rep, st) {
			actions++
			p("%d. %s", actions, mdText(actionLine(rep, r)))
			if hint := reasonHint(r.Reason); hint != "" {
				p("   - Note: %s", mdText(hint))
			}
			if rules := localRules(r); rules != "" {
				p("   - Rule: %s", mdText(rules))
			}
			if len(r.Peers) > 0 {
				p("   - Seen: %s", mdText(peersSeenText(r.Peers, r.PeersOmitted)))
				if f := foldedText(r.PeersFolded, r.FoldedCounts); f != "" {
					p("   - Folded: %s", mdText(f))
				}
			}
			if ps := processList(r.Processes, r.ProcessFlowsOther); len(ps) > 0 {
				p("   - Process: %s", mdText(strings.Join(ps, "; ")))
			}
			if r.Source.Text != "" {
				p("   - Vendor (%s): %s", mdText(r.Source.Document), mdText("\""+r.Source.Text+"\""))
			}
		}
	}
	if actions == 0 {
		p("Nothing: no requirement is blocked or partial.")
	}
}

// mdSection writes one section: a heading and a table, the unexpected
// groups, or the not-applicable requirements' one line.
func mdSection(b *bufio.Writer, rep *analyze.Report, s section, all bool) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	if s.status == analyze.Unexpected {
		mdUnexpected(b, rep)
		return
	}
	reqs := byStatus(rep, s.status)
	if len(reqs) == 0 {
		return
	}
	p("")
	p("## %s (%d)", s.title, len(reqs))
	p("")
	if s.status == analyze.NotApplicable && !all {
		p("%s.", mdText(naFoldText(rep)))
		return
	}
	mdRequirements(b, rep, s.status, reqs)
}

// mdUnexpected writes the unexpected flows and the noise line.
func mdUnexpected(b *bufio.Writer, rep *analyze.Report) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("")
	p("## Unexpected (%d)", len(rep.Unexpected))
	p("")
	if len(rep.Unexpected) == 0 {
		p("Nothing unexpected: every flow to or from the gateway is allowed by an applicable requirement.")
	} else {
		t := mdRows{header: []string{"Direction", "Port", "Flows", "Outcomes", "Peers", "First seen", "Last seen"}, right: []int{2}}
		t.optional("Process")
		t.optional("Note")
		for _, u := range rep.Unexpected {
			t.rows = append(t.rows, []string{string(u.Direction), unexpectedPort(u), fmt.Sprint(u.Counts.Flows), outcomesText(u.Counts, u.Reasons),
				strings.Join(peersList(u.Peers, u.PeersOmitted, u.PeersFolded), ", "), stamp(u.FirstSeen), stamp(u.LastSeen),
				strings.Join(processList(u.Processes, u.ProcessFlowsOther), "; "), unexpectedNote(u)})
		}
		t.write(b)
		if f := unexpectedFoldedText(rep.UnexpectedFolded); f != "" {
			p("")
			p("And %s.", mdText(f))
		}
	}
	if n := noiseText(rep.Noise); n != "" {
		p("")
		p("Noise (not judged, see docs/report.md): %s.", mdText(n))
	}
}

func productNames(ps []analyze.ProductSummary) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Name
	}
	return strings.Join(s, ", ")
}

// actionLine says what to open, for whom, and why: "Allow outbound tcp/22
// from the gateway (192.0.2.10) to zone:vendor-support for
// mailcleaner/out-tcp-22-updates (SSH): blocked, unanswered: dropped
// silently, 1 of 1 attempts failed: unanswered: dropped silently (1)".
func actionLine(rep *analyze.Report, r analyze.Requirement) string {
	gw := "the gateway"
	if a := addrsText(rep.Hosts.Addrs); a != "" {
		gw += " (" + a + ")"
	}
	from, to := gw, allowedText(r.Allowed)
	if r.Direction == catalog.In {
		from, to = to, gw
	}
	// A gateway refusing by itself needs its service fixed, not a rule;
	// one dropping by itself, its own configuration.
	verb := "Allow"
	switch r.Reason {
	case analyze.ReasonRefusedByGateway:
		verb = "Fix the gateway's service for"
	case analyze.ReasonLocalDrop:
		verb = "Change the gateway's own firewall rules to allow"
	case analyze.ReasonNoRoute:
		verb = "Add a route on the gateway for"
	case analyze.ReasonNeighFailed:
		verb = "Fix the gateway's next hop (ARP / neighbour discovery) for"
	case analyze.ReasonSocketFilter:
		verb = "Fix the socket filter on the gateway for"
	}
	return fmt.Sprintf("%s %s %s from %s to %s for %s%s: %s, %d of %d attempts failed: %s",
		verb, dirText(r.Direction), reqPort(r.Protocol, r.Ports), from, to, r.ID, nonEmpty(r.Service), r.Status,
		r.Counts.Failed(), r.Counts.Attempts, strings.Join(reasonsText(r), "; "))
}

func nonEmpty(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// reasonHint points at the right fix when the firewall is not the culprit.
func reasonHint(r analyze.Reason) string {
	switch r {
	case analyze.ReasonRefusedByGateway:
		return "the gateway itself refused: start or fix the service on the gateway; a firewall rule will not help"
	case analyze.ReasonPortUnreachable:
		return "ICMP port unreachable: sent by the server, its service is not listening; sent by a firewall (the reason says so), that firewall rejects it"
	case analyze.ReasonHandshakeIncomplete:
		return "the SYN-ACK left but was never acknowledged: check the return route and the firewall's state for the answer's way back"
	case analyze.ReasonNoReply:
		return "UDP without a reply: a filter and a silent service look the same; check both"
	case analyze.ReasonHostUnreachable, analyze.ReasonNetUnreachable:
		return "a router found no route: check routing as well as filtering"
	case analyze.ReasonLocalDrop:
		return "this gateway's own firewall (nftables / iptables) dropped it: change the gateway's own rules, not the upstream firewall"
	case analyze.ReasonNoRoute:
		return "this gateway has no route for it: fix the gateway's routing table, not a firewall"
	case analyze.ReasonNeighFailed:
		return "this gateway could not reach its next hop (ARP / neighbour discovery failed): check its link and neighbours, not a firewall"
	case analyze.ReasonSocketFilter:
		return "a BPF filter on a socket of this gateway dropped it: not a firewall"
	}
	return ""
}

// localRules names the gateway's own rules that drop a requirement's
// attempts ("table inet fw chain out handle 4 (drop)"), from its
// local-drop reason: "" for other reasons.
func localRules(r analyze.Requirement) string {
	for _, rc := range r.Reasons {
		if rc.Reason == analyze.ReasonLocalDrop && len(rc.Detail) > 0 {
			return strings.Join(rc.Detail, "; ")
		}
	}
	return ""
}

// maxActionPeers bounds the peers an action line lists (worst first, as
// the report orders them).
const maxActionPeers = 10

// peersSeenText lists peers with their counts for the action list.
func peersSeenText(ps []analyze.PeerSeen, omitted int) string {
	var s []string
	for i, p := range ps {
		if i == maxActionPeers {
			break
		}
		s = append(s, fmt.Sprintf("%s: %s", peerText(p), countsText(p.Counts)))
	}
	out := strings.Join(s, "; ")
	if more := len(ps) - len(s) + omitted; more > 0 {
		out += fmt.Sprintf("; and %d more", more)
	}
	return out
}

func mdRequirements(b *bufio.Writer, rep *analyze.Report, st analyze.Status, reqs []analyze.Requirement) {
	t := mdRows{header: []string{"Requirement", "Direction", "Port", "Service"}}
	switch st {
	case analyze.Blocked, analyze.Partial:
		t.add([]string{"Reason", "Worked", "Failed", "Peers", "First seen", "Last seen"}, 5, 6)
	case analyze.NeverSeen:
		t.add([]string{"Allowed peers", "Purpose"})
		t.optional("Note")
	case analyze.NotApplicable:
		t.add([]string{"Condition", "Flows"}, 5)
	default: // ok, inconclusive
		t.add([]string{"Flows", "Peers"}, 4)
		t.optional("Note")
	}
	if st != analyze.NotApplicable {
		t.optional("Process")
	}
	for _, r := range reqs {
		row := []string{r.ID, string(r.Direction), reqPort(r.Protocol, r.Ports), r.Service}
		procs := strings.Join(processList(r.Processes, r.ProcessFlowsOther), "; ")
		switch st {
		case analyze.Blocked, analyze.Partial:
			row = append(row, strings.Join(reasonLines(r), "; "), fmt.Sprint(r.Counts.Established), fmt.Sprint(r.Counts.Failed()),
				strings.Join(peersWithOutcomes(r.Peers, r.PeersOmitted, r.PeersFolded), ", "), stampPtr(r.FirstSeen), stampPtr(r.LastSeen), procs)
		case analyze.NeverSeen:
			row = append(row, allowedText(r.Allowed), r.Purpose, r.Note, procs)
		case analyze.NotApplicable:
			row = append(row, conditionText(r.Condition, rep.Features), fmt.Sprint(r.Counts.Flows))
		default:
			row = append(row, fmt.Sprint(r.Counts.Flows), strings.Join(peersList(r.Peers, r.PeersOmitted, r.PeersFolded), ", "), r.Note, procs)
		}
		t.rows = append(t.rows, row)
	}
	t.write(b)
}

// mdRows is a Markdown table whose optional columns are left out when
// no row has anything in them.
type mdRows struct {
	header []string
	right  []int // columns holding numbers
	opt    map[int]bool
	rows   [][]string
}

// add appends columns; right lists those of them (by index in the whole
// table) that hold numbers.
func (t *mdRows) add(cols []string, right ...int) {
	t.header = append(t.header, cols...)
	t.right = append(t.right, right...)
}

func (t *mdRows) optional(col string) {
	if t.opt == nil {
		t.opt = map[int]bool{}
	}
	t.opt[len(t.header)] = true
	t.header = append(t.header, col)
}

func (t *mdRows) write(b *bufio.Writer) {
	var keep []int
	var right []int
	for i := range t.header {
		if t.opt[i] && !slices.ContainsFunc(t.rows, func(r []string) bool { return r[i] != "" }) {
			continue
		}
		if slices.Contains(t.right, i) {
			right = append(right, len(keep))
		}
		keep = append(keep, i)
	}
	pick := func(row []string) []string {
		out := make([]string, len(keep))
		for j, i := range keep {
			out[j] = row[i]
		}
		return out
	}
	mdTable(b, pick(t.header), right)
	for _, r := range t.rows {
		mdRow(b, pick(r)...)
	}
}

// mdTable writes a header row and the alignment row; right lists the
// columns holding numbers.
func mdTable(b *bufio.Writer, header []string, right []int) {
	mdRow(b, header...)
	b.WriteString("|")
	for i := range header {
		sep := "---|"
		for _, r := range right {
			if r == i {
				sep = "--:|"
			}
		}
		b.WriteString(sep)
	}
	b.WriteString("\n")
}

func mdRow(b *bufio.Writer, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + mdCell(c) + " |")
	}
	b.WriteString("\n")
}

// mdText escapes text from the report for Markdown (escape.Markdown): one
// line, no control characters, no markup. Names from captures and text
// from catalogs must stay text.
func mdText(s string) string { return escape.Markdown(s) }

// mdCell escapes a table cell; line breaks become spaces, pipes are
// escaped.
func mdCell(s string) string {
	if s == "" {
		return ""
	}
	return mdText(s)
}
