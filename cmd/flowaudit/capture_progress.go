package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// Progress refresh intervals: in place on a terminal, plain lines (for
// logs and pipes) less often.
const (
	progressTTYEvery   = time.Second
	progressPlainEvery = 10 * time.Second
)

// progress draws the running capture's state on stderr: one line
// refreshed in place on a terminal, the requirement table redrawn with
// --live, plain periodic lines when stderr is not a terminal.
type progress struct {
	w     io.Writer
	tty   bool
	live  bool
	iface string // escaped for the terminal
	start time.Time
	// lines is how many lines the last terminal draw used, to redraw over.
	lines int
	// rows is the terminal height, bounding the --live table.
	rows int
}

func newProgress(w io.Writer, iface string, live bool, start time.Time) *progress {
	p := &progress{w: w, iface: escape.Terminal(iface), live: live, start: start, rows: 24}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if _, h, err := term.GetSize(int(f.Fd())); err == nil && h > 4 {
			p.rows = h
		}
	}
	return p
}

// every is the refresh interval.
func (p *progress) every() time.Duration {
	if p.tty {
		return progressTTYEvery
	}
	return progressPlainEvery
}

// statusLine is the one-line summary: counters and verdicts so far.
func (p *progress) statusLine(snap *capture.Result, rep *analyze.Report, now time.Time) string {
	st := &snap.Stats
	var b strings.Builder
	fmt.Fprintf(&b, "capture %s %s: %d packets, %d flows, %d dropped", p.iface,
		now.Sub(p.start).Truncate(time.Second), st.Packets, len(snap.Flows), st.KernelDrops)
	if rep != nil {
		s := rep.Summary
		fmt.Fprintf(&b, " | ok %d, partial %d, blocked %d, never-seen %d, n/a %d, unexpected %d",
			s.OK, s.Partial, s.Blocked, s.NeverSeen, s.NotApplicable, s.Unexpected)
	}
	return b.String()
}

// update shows the state of snap (rep may be nil when the audit failed).
func (p *progress) update(snap *capture.Result, rep *analyze.Report, now time.Time) {
	line := p.statusLine(snap, rep, now)
	switch {
	case !p.tty:
		fmt.Fprintln(p.w, "flowaudit: "+line)
	case p.live && rep != nil:
		var b strings.Builder
		n := p.table(&b, rep)
		b.WriteString(line)
		p.redraw(b.String(), n+1)
	default:
		p.redraw(line, 1)
	}
}

// redraw replaces what the last draw put on the terminal with text
// (n lines, the last one without a newline so the cursor stays on it).
func (p *progress) redraw(text string, n int) {
	var b strings.Builder
	b.WriteString("\r")
	if p.lines > 1 {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines-1) // up to the first line drawn
	}
	b.WriteString("\x1b[J") // clear to the end of the screen
	b.WriteString(text)
	io.WriteString(p.w, b.String())
	p.lines = n
}

// table writes the requirement table for --live and returns its lines.
func (p *progress) table(b *strings.Builder, rep *analyze.Report) int {
	max := p.rows - 3 // header, status line, one spare
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tREQUIREMENT\tFLOW\tATTEMPTS\tREASON")
	n := 1
	for i, r := range rep.Requirements {
		if n >= max && i < len(rep.Requirements) {
			fmt.Fprintf(tw, "... %d more\t\t\t\t\n", len(rep.Requirements)-i)
			n++
			break
		}
		attempts := "-"
		if r.Counts.Attempts > 0 {
			attempts = fmt.Sprintf("%d ok / %d", r.Counts.Established, r.Counts.Attempts)
		}
		// Ids come from catalog overlays: escaped, so a tab or newline in
		// one cannot shift the columns or the line count redraw relies on.
		fmt.Fprintf(tw, "%s\t%s\t%s %s %s\t%s\t%s\n", r.Status, escape.Terminal(r.ID),
			r.Direction, r.Protocol, portsString(r.Ports), attempts, r.Reason)
		n++
	}
	tw.Flush()
	return n
}

// finish ends the terminal display so later output starts on a new line.
func (p *progress) finish() {
	if p.tty && p.lines > 0 {
		io.WriteString(p.w, "\n")
		p.lines = 0
	}
}
