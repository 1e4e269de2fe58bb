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
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// Progress refresh intervals: in place on a terminal, plain lines (for
// logs and pipes) less often. liveProgressEvery is how often the capture
// pipeline offers progress: the gateway addresses are refreshed then, and
// the display redraws when its own interval has passed.
const (
	progressTTYEvery   = time.Second
	progressPlainEvery = 10 * time.Second
	liveProgressEvery  = 250 * time.Millisecond
)

// liveView is the running capture's display as a capture.Sink. On the
// pipeline's goroutine (the Auditor is not safe for concurrent use) it
// refreshes the gateway addresses and, when a redraw is due, asks the
// Auditor for a Snapshot: the report as if the open flows finished now,
// costing the tally plus the open flows, never a re-audit of the run (at
// most a tenth of the time all the same; the display shows the last
// verdicts meanwhile). A display goroutine draws, so a slow terminal never
// holds up the capture.
type liveView struct {
	p                   *progress
	aud                 *analyze.Auditor
	hosts               func()
	nextDraw, nextAudit time.Time
	rep                 *analyze.Report
	frames              chan liveFrame
	done                chan struct{}
}

// liveFrame is one redraw: the counts, the verdicts, the time.
type liveFrame struct {
	st  capture.Stats
	rep *analyze.Report
	now time.Time
}

// newLiveView starts the display goroutine drawing with p; hosts refreshes
// the gateway addresses (on the pipeline's goroutine).
func newLiveView(p *progress, aud *analyze.Auditor, hosts func()) *liveView {
	v := &liveView{p: p, aud: aud, hosts: hosts, frames: make(chan liveFrame, 1), done: make(chan struct{})}
	v.nextDraw = time.Now().Add(p.every())
	go v.display()
	return v
}

// Flow implements capture.Sink: the view counts nothing itself.
func (v *liveView) Flow(*flow.Flow) {}

// Progress implements capture.Sink.
func (v *liveView) Progress(pr capture.Progress) {
	v.hosts()
	now := time.Now()
	if now.Before(v.nextDraw) {
		return
	}
	v.nextDraw = now.Add(v.p.every())
	if !now.Before(v.nextAudit) {
		v.rep = v.aud.Snapshot(pr.Stats, pr.ActiveFlows)
		v.nextAudit = time.Now().Add(10 * time.Since(now))
	}
	fr := liveFrame{st: pr.Stats, rep: v.rep, now: now}
	for {
		select {
		case v.frames <- fr:
			return
		default:
		}
		// The display is behind: the newer frame replaces the waiting one.
		select {
		case <-v.frames:
		default:
		}
	}
}

// display draws frames until finish.
func (v *liveView) display() {
	defer close(v.done)
	for fr := range v.frames {
		v.p.update(fr.st, fr.rep, fr.now)
	}
}

// finish waits for the last frame to be drawn and ends the display, so
// later output starts on a new line.
func (v *liveView) finish() {
	close(v.frames)
	<-v.done
	v.p.finish()
}

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
func (p *progress) statusLine(st capture.Stats, rep *analyze.Report, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "capture %s %s: %d packets, %d flows, %d dropped", p.iface,
		now.Sub(p.start).Truncate(time.Second), st.Packets, st.Flows, st.KernelDrops)
	if rep != nil {
		s := rep.Summary
		fmt.Fprintf(&b, " | ok %d, partial %d, blocked %d, never-seen %d, n/a %d, unexpected %d",
			s.OK, s.Partial, s.Blocked, s.NeverSeen, s.NotApplicable, s.Unexpected)
	}
	return b.String()
}

// update shows the counts st and the verdicts rep (nil before the first).
func (p *progress) update(st capture.Stats, rep *analyze.Report, now time.Time) {
	line := p.statusLine(st, rep, now)
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
		reason := string(r.Reason)
		if r.Reason.Local() {
			// Where the gateway dropped it: "local-drop (output)".
			if i := strings.LastIndex(r.ReasonText, " ("); i >= 0 {
				reason += r.ReasonText[i:]
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s %s\t%s\t%s\n", r.Status, escape.Terminal(r.ID),
			r.Direction, r.Protocol, portsString(r.Ports), attempts, reason)
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
