package render

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// ANSI colours per status (and for warnings).
const (
	ansiReset   = "\x1b[0m"
	ansiRed     = "\x1b[1;31m"
	ansiYellow  = "\x1b[1;33m"
	ansiMagenta = "\x1b[1;35m"
	ansiGreen   = "\x1b[1;32m"
	ansiDim     = "\x1b[2m"
	ansiBold    = "\x1b[1m"
)

var statusColor = map[analyze.Status]string{
	analyze.Blocked:       ansiRed,
	analyze.Partial:       ansiYellow,
	analyze.NeverSeen:     ansiMagenta,
	analyze.OK:            ansiGreen,
	analyze.NotApplicable: ansiDim,
	analyze.Unexpected:    ansiYellow,
}

// tableWriter carries the output and the colour choice through the
// sections, and keeps the first write error.
type tableWriter struct {
	w     *bufio.Writer
	color bool
}

func (t *tableWriter) paint(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

// colored writes one line in colour (when colour is on), escaped for
// the terminal (escape.Terminal) before the colour codes go around it.
func (t *tableWriter) colored(code, s string) {
	fmt.Fprintln(t.w, t.paint(code, escape.Terminal(s)))
}

// line writes one line of text from the report; string arguments are
// escaped for the terminal (escape.Terminal): names learned from the
// traffic and text from files must neither drive the terminal nor start a
// line of their own.
func (t *tableWriter) line(format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = escape.Terminal(s)
		}
	}
	fmt.Fprintf(t.w, format+"\n", args...)
}

// cell is one table cell: its lines, each escaped when the table is drawn,
// so a line break inside a name stays visible ("\n") and only the
// renderer's own lists (reasons, peers) take several lines.
type cell []string

// one is a cell of one line.
func one(s string) cell { return cell{s} }

// Table writes the report for a terminal: the summary line, hosts,
// capture coverage and warnings, then the requirements grouped by status
// (blocked first), the unexpected flows and the housekeeping summary.
func Table(w io.Writer, rep *analyze.Report, opts Options) error {
	t := &tableWriter{w: bufio.NewWriter(w), color: opts.Color}
	t.colored(ansiBold, SummaryLine(rep))
	t.line("")
	t.line("Products:     %s", productsText(rep.Products))
	t.line("Gateway:      %s", hostsText(rep.Hosts))
	t.line("Capture:      %s", coverageText(rep.Capture))
	if l := lossText(rep.Capture); l != "" {
		t.colored(ansiRed, "WARNING: capture loss: "+l)
	}
	for _, warn := range warnings(rep) {
		t.colored(ansiYellow, "Warning: "+warn)
	}
	for _, st := range analyze.Statuses {
		reqs := byStatus(rep, st)
		if len(reqs) == 0 {
			continue
		}
		t.line("")
		t.colored(statusColor[st], fmt.Sprintf("%s (%d)", strings.ToUpper(statusTitle[st]), len(reqs)))
		if err := t.requirements(rep, st, reqs); err != nil {
			return err
		}
	}
	if ps := processLines(rep); len(ps) > 0 {
		t.line("")
		t.line("PROCESSES (eBPF attribution, best effort)")
		for _, p := range ps {
			t.line("  %s", p)
		}
	}
	if a := rep.Capture.Attribution; strings.HasPrefix(a, "unavailable") {
		t.colored(ansiYellow, "Process attribution "+a)
	}
	t.line("")
	if len(rep.Unexpected) == 0 {
		t.line("UNEXPECTED: none")
	} else {
		t.colored(statusColor[analyze.Unexpected],
			fmt.Sprintf("UNEXPECTED (%d groups, %s)", len(rep.Unexpected), plural(rep.Summary.UnexpectedFlows, "flow", "flows")))
		if err := t.unexpected(rep.Unexpected); err != nil {
			return err
		}
		if f := unexpectedFoldedText(rep.UnexpectedFolded); f != "" {
			t.line("  and %s", f)
		}
	}
	if n := noiseText(rep.Noise); n != "" {
		t.line("")
		t.line("Noise (not judged, see docs/report.md): %s", n)
	}
	t.line("")
	t.line("Housekeeping (link-local, not audited): %s", housekeepingText(rep.Housekeeping))
	t.line("Flows: %d read, %d matched a requirement, %d transit, %d housekeeping",
		rep.Summary.Flows, rep.Summary.Matched, rep.Summary.Transit, rep.Summary.Housekeeping)
	return t.w.Flush()
}

// requirements writes one status's table; the columns depend on what the
// status has to say.
func (t *tableWriter) requirements(rep *analyze.Report, st analyze.Status, reqs []analyze.Requirement) error {
	var header []string
	var rows [][]cell
	var right []int          // columns holding numbers
	var paint map[int]string // columns to colour, by index
	switch st {
	case analyze.Blocked, analyze.Partial:
		header = []string{"REQUIREMENT", "DIR", "PORT", "SERVICE", "REASON (FLOWS)", "OK", "FAILED", "PEERS"}
		peers := peersList
		if st == analyze.Partial {
			peers = peersWithOutcomes
		}
		right = []int{5, 6}
		for _, r := range reqs {
			rows = append(rows, []cell{one(shortID(rep, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)), one(r.Service),
				reasonLines(r), one(strconv.Itoa(r.Counts.Established)), one(strconv.Itoa(r.Counts.Failed())),
				peers(r.Peers, r.PeersOmitted, r.PeersFolded)})
		}
		paint = map[int]string{4: statusColor[st]}
	case analyze.NeverSeen:
		header = []string{"REQUIREMENT", "DIR", "PORT", "SERVICE", "ALLOWED PEERS"}
		note := hasNote(reqs)
		if note {
			header = append(header, "NOTE")
		}
		for _, r := range reqs {
			row := []cell{one(shortID(rep, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)), one(r.Service), one(allowedText(r.Allowed))}
			if note {
				row = append(row, one(r.Note))
			}
			rows = append(rows, row)
		}
	case analyze.OK:
		header = []string{"REQUIREMENT", "DIR", "PORT", "SERVICE", "FLOWS", "PEERS"}
		right = []int{4}
		note := hasNote(reqs)
		if note {
			header = append(header, "NOTE")
		}
		for _, r := range reqs {
			row := []cell{one(shortID(rep, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)), one(r.Service),
				one(strconv.Itoa(r.Counts.Flows)), peersList(r.Peers, r.PeersOmitted, r.PeersFolded)}
			if note {
				row = append(row, one(r.Note))
			}
			rows = append(rows, row)
		}
	case analyze.NotApplicable:
		header = []string{"REQUIREMENT", "DIR", "PORT", "SERVICE", "CONDITION", "FLOWS"}
		right = []int{5}
		for _, r := range reqs {
			rows = append(rows, []cell{one(shortID(rep, r.ID)), one(string(r.Direction)), one(reqPort(r.Protocol, r.Ports)), one(r.Service),
				one(conditionText(r.Condition, rep.Features)), one(strconv.Itoa(r.Counts.Flows))})
		}
	}
	return t.table(header, rows, right, paint)
}

func (t *tableWriter) unexpected(us []analyze.UnexpectedFlow) error {
	header := []string{"DIR", "PORT", "FLOWS", "OUTCOMES", "PEERS", "NOTE"}
	var rows [][]cell
	for _, u := range us {
		rows = append(rows, []cell{one(string(u.Direction)), one(unexpectedPort(u)), one(strconv.Itoa(u.Counts.Flows)),
			one(outcomesText(u.Counts, u.Reasons)), peersList(u.Peers, u.PeersOmitted, u.PeersFolded), one(unexpectedNote(u))})
	}
	return t.table(header, rows, []int{2}, nil)
}

// table renders one tablewriter table: headers as written, no wrapping
// (cells hold their own lines), numbers right-aligned, every line of every
// cell escaped for the terminal, then the paint columns coloured line by
// line.
func (t *tableWriter) table(header []string, rows [][]cell, right []int, paint map[int]string) error {
	text := make([][]string, len(rows))
	for i, row := range rows {
		text[i] = make([]string, len(row))
		for j, c := range row {
			lines := make([]string, len(c))
			for k, l := range c {
				lines[k] = escape.Terminal(l)
				if code, ok := paint[j]; ok {
					lines[k] = t.paint(code, lines[k])
				}
			}
			text[i][j] = strings.Join(lines, "\n")
		}
	}
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignLeft
	}
	for _, i := range right {
		align[i] = tw.AlignRight
	}
	tbl := tablewriter.NewTable(t.w,
		tablewriter.WithRenderer(renderer.NewBlueprint()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{Global: tw.AlignLeft, PerColumn: align}),
	)
	tbl.Header(header)
	if err := tbl.Bulk(text); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}
