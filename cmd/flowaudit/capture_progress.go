package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/analyze/render"
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
// refreshed in place on a terminal; with --live, the live view
// (render.Live) on the terminal's alternate screen, redrawn in place and
// left when the capture stops, so the scrollback keeps none of its
// frames and the final report prints after it as usual; plain periodic
// lines when stderr is not a terminal.
type progress struct {
	w     io.Writer
	tty   bool
	live  bool
	color bool
	iface string // escaped for the terminal
	start time.Time
	// cols and rows are the terminal's size (the view fits it), read
	// again at each draw: a resized window gets a view that fits.
	cols, rows int
	size       func() (cols, rows int, err error)
	// drawn is set once the status line was drawn in place; alt once the
	// alternate screen is entered.
	drawn, alt bool
}

// The terminal's default size when it cannot be read.
const defaultCols, defaultRows = 80, 24

func newProgress(w io.Writer, iface string, live bool, start time.Time) *progress {
	p := &progress{w: w, iface: escape.Terminal(iface), live: live, start: start, cols: defaultCols, rows: defaultRows}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.color = useColor(w)
		p.size = func() (int, int, error) { return term.GetSize(int(f.Fd())) }
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
	if rep != nil && !p.live {
		fmt.Fprintf(&b, " | %s", rep.Summary.Line())
	}
	return b.String()
}

// update shows the counts st and the verdicts rep (nil before the first).
func (p *progress) update(st capture.Stats, rep *analyze.Report, now time.Time) {
	if !p.tty {
		fmt.Fprintln(p.w, "flowaudit: "+p.statusLine(st, rep, now))
		return
	}
	if p.size != nil {
		if c, r, err := p.size(); err == nil && c > 0 && r > 0 {
			p.cols, p.rows = c, r
		}
	}
	line := render.Fit(p.statusLine(st, rep, now), p.cols-1)
	if !p.live || rep == nil {
		// One line, never as wide as the terminal: it cannot wrap, so
		// "\r" and clearing the line replace it.
		io.WriteString(p.w, "\r"+line+"\x1b[K")
		p.drawn = true
		return
	}
	lines := append(render.Live(rep, render.Options{Color: p.color, Width: p.cols - 1}, p.rows-1), line)
	p.screen(lines)
}

// screen draws lines over the alternate screen from its top left corner,
// clearing what the last draw left below and right of them: no line is as
// wide as the terminal and there are fewer than its rows, so nothing
// wraps or scrolls.
func (p *progress) screen(lines []string) {
	var b strings.Builder
	if !p.alt {
		if p.drawn {
			b.WriteString("\r\x1b[K") // the status line drawn before the first view
		}
		b.WriteString("\x1b[?1049h") // the alternate screen
		p.alt = true
	}
	b.WriteString("\x1b[H")
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(l)
		b.WriteString("\x1b[K")
	}
	b.WriteString("\x1b[J")
	io.WriteString(p.w, b.String())
}

// finish ends the terminal display so later output starts on a new line:
// it leaves the alternate screen (the terminal shows again what it showed
// before the view), or ends the status line.
func (p *progress) finish() {
	switch {
	case p.alt:
		io.WriteString(p.w, "\x1b[?1049l")
		p.alt = false
	case p.drawn:
		io.WriteString(p.w, "\n")
	}
	p.drawn = false
}
