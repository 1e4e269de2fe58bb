package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwarp"
	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// ANSI colours per status (and for warnings).
const (
	ansiReset   = "\x1b[0m"
	ansiRed     = "\x1b[1;31m"
	ansiYellow  = "\x1b[1;33m"
	ansiBlue    = "\x1b[1;34m"
	ansiMagenta = "\x1b[1;35m"
	ansiGreen   = "\x1b[1;32m"
	ansiDim     = "\x1b[2m"
	ansiBold    = "\x1b[1m"
)

// tableWriter carries the output and the layout choices through the
// sections.
type tableWriter struct {
	w     *bufio.Writer
	color bool
	width int  // 0: no limit
	list  bool // blocks of lines instead of tables (width < ListWidth)
	all   bool // not-applicable requirements in full
}

func (t *tableWriter) paint(code, s string) string {
	if !t.color || s == "" || code == "" {
		return s
	}
	return code + s + ansiReset
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

// para writes prefix and text (escaped for the terminal) as a paragraph
// that fits the width, every line coloured with code. Continuation lines
// are indented by indent; a prefix as wide as that (a label padded to
// the indent, "Gateway:      ") keeps the text aligned under itself, a
// longer one wraps with the text.
func (t *tableWriter) para(prefix string, indent int, code, text string) {
	text = escape.Terminal(text)
	if indent == 0 {
		indent = len(prefix)
	}
	lead := prefix
	if len(prefix) > indent {
		text, lead = prefix+text, ""
	}
	for i, l := range wrapText(text, t.width-indent) {
		if i > 0 {
			lead = strings.Repeat(" ", indent)
		}
		fmt.Fprintln(t.w, t.paint(code, lead+l))
	}
}

// wrapText breaks s at spaces into lines at most lim columns wide, with
// the least ragged right edge (a word longer than lim keeps a line of its
// own); all of s when lim <= 0. twwarp.WrapString would widen every line
// to the longest word: a long name would push the whole paragraph past
// the width.
func wrapText(s string, lim int) []string {
	if lim <= 0 || twwidth.Width(s) <= lim {
		return []string{s}
	}
	var lines []string
	for _, ws := range twwarp.WrapWords(twwarp.SplitWords(s), 1, lim, wrapPenalty) {
		if len(ws) > 1 && twwidth.Width(strings.Join(ws, " ")) > lim {
			lines = append(lines, ws...) // a long word shares no line
			continue
		}
		lines = append(lines, strings.Join(ws, " "))
	}
	return lines
}

// wrapPenalty is what WrapWords adds for a line longer than the limit
// (only a word longer than it makes one): the value twwarp uses.
const wrapPenalty = 1e5

// cell is one table cell: its lines, each escaped when the table is drawn,
// so a line break inside a name stays visible ("\n") and only the
// renderer's own lists (reasons, peers) take several lines.
type cell []string

// one is a cell of one line; none when s is empty.
func one(s string) cell {
	if s == "" {
		return nil
	}
	return cell{s}
}

// Table writes the report for a terminal: the summary line, hosts,
// capture coverage and warnings, then the sections in order of urgency
// (blocked, partial, unexpected, inconclusive, never-seen, ok, then the
// not-applicable requirements folded to one line unless Options.All),
// and the noise and housekeeping summaries. With Options.Width the text
// fits that many columns: table columns of text wrap, and below
// ListWidth every requirement is a block of lines.
func Table(w io.Writer, rep *analyze.Report, opts Options) error {
	t := &tableWriter{w: bufio.NewWriter(w), color: opts.Color, width: max(opts.Width, 0), all: opts.All}
	t.list = t.width > 0 && (t.width < ListWidth || !t.tablesFit(rep))
	t.para("", 2, ansiBold, SummaryLine(rep))
	t.line("")
	t.para("Products:     ", 0, "", productsText(rep.Products))
	t.para("Gateway:      ", 0, "", hostsText(rep.Hosts))
	if r := rep.RecordedText(); r != "" {
		t.para("Inputs:       ", 0, "", r)
	}
	t.para("Capture:      ", 0, "", coverageText(rep.Capture))
	if sd := sidesText(rep.Coverage); sd != "" {
		t.para("Sides:        ", 0, "", sd)
	}
	if ld := localDropsText(rep.Capture); ld != "" {
		t.para("Local drops:  ", 0, "", ld)
	}
	if l := lossText(rep.Capture); l != "" {
		t.para("WARNING: capture loss: ", 9, ansiRed, l)
	}
	for _, warn := range warnings(rep) {
		t.para("Warning: ", 0, ansiYellow, warn)
	}
	for _, s := range sections {
		if err := t.section(rep, s); err != nil {
			return err
		}
	}
	if n := noiseText(rep.Noise); n != "" {
		t.line("")
		t.para("", 2, "", "Noise (not judged, see docs/report.md): "+n)
	}
	if a := rep.Capture.Attribution; strings.HasPrefix(a, "unavailable") {
		t.line("")
		t.para("", 2, ansiYellow, "Process attribution "+a)
	}
	t.line("")
	t.para("", 2, "", "Housekeeping (link-local, not audited): "+housekeepingText(rep.Housekeeping))
	t.para("", 2, "", fmt.Sprintf("Flows: %d read, %d matched a requirement, %d transit, %d housekeeping",
		rep.Summary.Flows, rep.Summary.Matched, rep.Summary.Transit, rep.Summary.Housekeeping))
	return t.w.Flush()
}

// tablesFit reports whether every section's table fits the width with
// its text columns at least minComfort wide (or as wide as their text).
func (t *tableWriter) tablesFit(rep *analyze.Report) bool {
	var sets []rowset
	for _, s := range sections {
		switch reqs := byStatus(rep, s.status); {
		case s.status == analyze.Unexpected && len(rep.Unexpected) > 0:
			sets = append(sets, unexpectedRows(s, rep.Unexpected))
		case len(reqs) > 0 && (s.status != analyze.NotApplicable || t.all):
			sets = append(sets, requirementRows(rep, s, reqs))
		}
	}
	for _, rs := range sets {
		fields, rows := rs.visible(false)
		text := escapeCells(rows)
		natural := fitColumns(fields, text, 0)
		for i, w := range fitColumns(fields, text, t.width) {
			if fields[i].wrap && w < min(natural[i], minComfort) {
				return false
			}
		}
	}
	return true
}

// section writes one section: its heading and its requirements or
// unexpected groups, as a table or blocks; the not-applicable ones fold
// to one line unless t.all.
func (t *tableWriter) section(rep *analyze.Report, s section) error {
	if s.status == analyze.Unexpected {
		return t.unexpected(rep, s)
	}
	reqs := byStatus(rep, s.status)
	if len(reqs) == 0 {
		return nil
	}
	t.line("")
	if s.status == analyze.NotApplicable && !t.all {
		t.para("", 2, s.ansi, naFoldText(rep))
		return nil
	}
	t.para("", 2, s.ansi, fmt.Sprintf("%s (%d)", strings.ToUpper(s.title), len(reqs)))
	return t.rows(requirementRows(rep, s, reqs))
}

// unexpected writes the unexpected groups, or says there are none.
func (t *tableWriter) unexpected(rep *analyze.Report, s section) error {
	t.line("")
	if len(rep.Unexpected) == 0 {
		t.line("UNEXPECTED: none")
		return nil
	}
	t.para("", 2, s.ansi, fmt.Sprintf("UNEXPECTED (%d groups, %s)", len(rep.Unexpected), plural(rep.Summary.UnexpectedFlows, "flow", "flows")))
	if err := t.rows(unexpectedRows(s, rep.Unexpected)); err != nil {
		return err
	}
	if f := unexpectedFoldedText(rep.UnexpectedFolded); f != "" {
		t.para("  ", 0, "", "and "+f)
	}
	return nil
}
