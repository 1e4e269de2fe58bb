package render

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// The live view: what `flowaudit capture --live` redraws while it runs. It
// is the report's table cut to one screen: one line per requirement in the
// report's order of urgency (sections), the unexpected groups with the
// most flows among them, the not-applicable ones folded to one line, each
// line cut to the width, and as many lines as the height allows, the rest
// counted ("+N more").

// LiveUnexpected is how many unexpected groups the live view lists (the
// most flows first); the others are counted on one line.
const LiveUnexpected = 3

// liveDefaultWidth is the width when Options.Width is 0.
const liveDefaultWidth = 80

// Live returns the lines of the live view of rep: the summary, the
// header, then the rows, at most height lines in all (0: no limit), each
// at most Options.Width columns wide (80 when 0), coloured by status when
// Options.Color. The lines carry no newline.
func Live(rep *analyze.Report, opts Options, height int) []string {
	width := cmp.Or(opts.Width, liveDefaultWidth)
	t := &tableWriter{color: opts.Color}
	rows := liveRows(rep)
	cols := liveColumns(rows, width)
	lines := []string{t.paint(ansiBold, fit(liveSummary(rep, width), width)),
		t.paint(ansiBold, fit(cols.line(liveRow{status: "STATUS", cells: [4]string{"REQUIREMENT", "FLOW", "TRIED", "REASON"}}), width))}
	room := len(rows)
	if height > 0 && len(lines)+room > height {
		room = max(height-len(lines)-1, 0) // one line says what is left out
	}
	for _, r := range rows[:room] {
		line := fit(cols.line(r), width) // the columns' floors may not fit a narrow width
		if r.status == "" {              // a line of its own (folded groups, not applicable)
			line = fit("  "+escape.Terminal(r.cells[0]), width)
		}
		lines = append(lines, t.paintStatus(r, line))
	}
	if room < len(rows) && height > len(lines) {
		lines = append(lines, fit(moreText(rows[room:]), width))
	}
	return lines
}

// liveSummary is the report's summary line, shortened while it does not
// fit: without its count of requirements, then "n/a" for "not
// applicable".
func liveSummary(rep *analyze.Report, width int) string {
	s := SummaryLine(rep)
	if twwidth.Width(s) > width {
		if _, rest, ok := strings.Cut(s, ": "); ok {
			s = rest
		}
	}
	if twwidth.Width(s) > width {
		s = strings.Replace(s, " not applicable", " n/a", 1)
	}
	return s
}

// liveRow is one line of the live view: a status and four cells, or
// (status "") one text in cells[0]. counts is what the row stands for,
// for "+N more": the status, and how many of them.
type liveRow struct {
	status analyze.Status
	cells  [4]string
	counts analyze.Status
	n      int
}

// paintStatus colours the status word of a row (its first column).
func (t *tableWriter) paintStatus(r liveRow, line string) string {
	if r.status == "" || !t.color {
		if r.status == "" {
			return t.paint(sectionOf(r.counts).ansi, line)
		}
		return line
	}
	word := string(r.status)
	if !strings.HasPrefix(line, word) {
		return t.paint(sectionOf(r.status).ansi, line) // cut inside the word
	}
	return t.paint(sectionOf(r.status).ansi, word) + line[len(word):]
}

// liveRows are the view's rows in the report's order: requirements by
// status in order of urgency, the unexpected groups in their place, the
// not-applicable requirements folded to one line.
func liveRows(rep *analyze.Report) []liveRow {
	var rows []liveRow
	for _, s := range sections {
		switch s.status {
		case analyze.Unexpected:
			rows = append(rows, unexpectedLiveRows(rep)...)
		case analyze.NotApplicable:
			if n := rep.Summary.NotApplicable; n > 0 {
				rows = append(rows, liveRow{cells: [4]string{strings.TrimSuffix(naFoldText(rep), "; --all to list")},
					counts: analyze.NotApplicable, n: n})
			}
		default:
			for _, r := range byStatus(rep, s.status) {
				rows = append(rows, liveRow{status: r.Status, counts: r.Status, n: 1, cells: [4]string{
					shortID(rep, r.ID), string(r.Direction) + " " + reqPort(r.Protocol, r.Ports), triedText(r.Counts), liveReason(&r)}})
			}
		}
	}
	return rows
}

// unexpectedLiveRows are the LiveUnexpected groups with the most flows,
// and one line counting the others.
func unexpectedLiveRows(rep *analyze.Report) []liveRow {
	groups := slices.Clone(rep.Unexpected)
	slices.SortStableFunc(groups, func(a, b analyze.UnexpectedFlow) int { return cmp.Compare(b.Counts.Flows, a.Counts.Flows) })
	var rows []liveRow
	for _, u := range groups[:min(len(groups), LiveUnexpected)] {
		who := "-"
		if len(u.Peers) > 0 {
			who = u.Peers[0].Addr.String()
			if more := len(u.Peers) - 1 + u.PeersOmitted + u.PeersFolded; more > 0 {
				who += fmt.Sprintf(" +%d", more)
			}
		}
		rows = append(rows, liveRow{status: analyze.Unexpected, counts: analyze.Unexpected, n: 1, cells: [4]string{
			who, string(u.Direction) + " " + unexpectedPort(u), plural(u.Counts.Flows, "flow", "flows"), unexpectedLiveReason(&u)}})
	}
	if more := rep.Summary.Unexpected - len(rows); more > 0 {
		flows := rep.Summary.UnexpectedFlows
		for _, u := range groups[:len(rows)] {
			flows -= u.Counts.Flows
		}
		rows = append(rows, liveRow{cells: [4]string{fmt.Sprintf("and %d more unexpected (%s)", more, plural(flows, "flow", "flows"))},
			counts: analyze.Unexpected, n: more})
	}
	return rows
}

// triedText is "2/5 ok" (attempts that worked, of all), "-" for none.
func triedText(c analyze.Counts) string {
	if c.Attempts == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d ok", c.Established, c.Attempts)
}

// liveReasons give a requirement's REASON in plain words: the first
// whose test holds gives it. A new kind of reason is one line here.
var liveReasons = []struct {
	holds func(r *analyze.Requirement) bool
	text  func(r *analyze.Requirement) string
}{
	{func(r *analyze.Requirement) bool { return r.Reason != "" }, func(r *analyze.Requirement) string { return r.Reason.Text() }}, // blocked, partial
	{func(r *analyze.Requirement) bool { return r.Counts.Attempts == 0 && r.Counts.Pending > 0 },
		func(*analyze.Requirement) string { return "waiting for an answer" }},
	{func(r *analyze.Requirement) bool { return r.Status == analyze.Inconclusive },
		func(r *analyze.Requirement) string { return "tried, not judged: " + r.Note }},
	{func(r *analyze.Requirement) bool { return r.Status == analyze.NeverSeen },
		func(*analyze.Requirement) string { return "nothing tried it yet" }},
	{func(r *analyze.Requirement) bool { return len(r.Processes) > 0 },
		func(r *analyze.Requirement) string { return "by " + processNames(r.Processes) }},
	{func(r *analyze.Requirement) bool { return len(r.Peers) > 0 },
		func(r *analyze.Requirement) string { return "with " + peersShort(r.Peers, r.PeersOmitted) }},
}

// liveReason is the REASON cell of r (liveReasons).
func liveReason(r *analyze.Requirement) string {
	for _, lr := range liveReasons {
		if lr.holds(r) {
			return lr.text(r)
		}
	}
	return ""
}

// unexpectedLiveReason says what happened to a group's flows and, when
// the capture could tell, which program opened them.
func unexpectedLiveReason(u *analyze.UnexpectedFlow) string {
	what := strings.Join(u.Outcomes, ", ")
	if len(u.Reasons) > 0 {
		what = u.Reasons[0].Reason.Text()
	}
	if len(u.Processes) > 0 {
		return processNames(u.Processes) + ": " + what
	}
	return what
}

// processNames are the programs' names, "postfix, curl".
func processNames(ps []analyze.ProcessSeen) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Comm
	}
	return strings.Join(names, ", ")
}

// peersShort is the first peer and how many others: "198.51.100.7 +2".
func peersShort(ps []analyze.PeerSeen, omitted int) string {
	s := ps[0].Addr.String()
	if n := len(ps) - 1 + omitted; n > 0 {
		s += fmt.Sprintf(" +%d", n)
	}
	return s
}

// moreText counts the rows left out by status: "+12 more: 3 never seen,
// 9 ok".
func moreText(rows []liveRow) string {
	n := map[analyze.Status]int{}
	total := 0
	for _, r := range rows {
		n[r.counts] += r.n
		total += r.n
	}
	var parts []string
	for _, s := range sections {
		if n[s.status] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s.status], strings.ToLower(s.title)))
		}
	}
	return fmt.Sprintf("+%d more: %s", total, strings.Join(parts, ", "))
}

// liveCols are the widths of the view's columns: status, requirement,
// flow, tried, reason.
type liveCols [5]int

// liveColumns sizes the columns to width: status, flow and tried as wide
// as their text (flow at most 16), the requirement and the reason
// sharing the rest, the reason first shrinking to what the requirement
// leaves (the requirement keeping at least half).
func liveColumns(rows []liveRow, width int) liveCols {
	c := liveCols{len("STATUS"), len("REQUIREMENT"), len("FLOW"), len("TRIED"), len("REASON")}
	for _, r := range rows {
		if r.status == "" {
			continue
		}
		c[0] = max(c[0], len(r.status))
		for i, s := range r.cells {
			c[i+1] = max(c[i+1], twwidth.Width(escape.Terminal(s)))
		}
	}
	c[2] = min(c[2], 16)
	avail := max(width-c[0]-c[2]-c[3]-2*4, 2)
	need := c[1]
	c[1] = min(need, max(avail-c[4], avail/2))
	c[4] = avail - c[1]
	return c
}

// line lays out a row: each cell escaped for the terminal, cut to its
// column (ending in "~" when cut) and padded; the last one not padded.
func (c liveCols) line(r liveRow) string {
	var b strings.Builder
	b.WriteString(pad(string(r.status), c[0]))
	for i, s := range r.cells {
		b.WriteString("  ")
		s = escape.Terminal(s)
		if head, _, ok := strings.Cut(s, ": "); ok && i == len(r.cells)-1 && twwidth.Width(s) > c[i+1] {
			// Reasons read "what: why" (analyze.Reason.Text): what
			// alone when all does not fit.
			s = head
		}
		s = fit(s, c[i+1])
		if i < len(r.cells)-1 {
			s = pad(s, c[i+1])
		}
		b.WriteString(s)
	}
	return strings.TrimRight(b.String(), " ")
}

// Fit cuts s, text escaped for the terminal, to w columns, marking the
// cut with "~": for a line that must not wrap (the live view's).
func Fit(s string, w int) string { return fit(s, w) }

// fit cuts s to w columns, marking the cut with "~"; s is already
// escaped for the terminal.
func fit(s string, w int) string {
	if twwidth.Width(s) <= w {
		return s
	}
	if w <= 1 {
		return strings.Repeat("~", max(w, 0))
	}
	return twwidth.Truncate(s, w-1) + "~"
}

// pad pads s with spaces to w columns.
func pad(s string, w int) string {
	return s + strings.Repeat(" ", max(w-twwidth.Width(s), 0))
}
