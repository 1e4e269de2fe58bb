package render

import (
	"slices"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
)

// The time axis of the HTML timeline maps times to a percentage of the
// lanes' width, so that the lanes can take whatever width the page gives
// them. Merged sessions may leave gaps no session captured: a long gap
// is drawn at a fixed width (and labelled), so that hours without a
// capture do not squeeze the minutes with one into a sliver.
const (
	gapMaxShare   = 5.0  // percent of the width a long gap gets
	gapTotalShare = 30.0 // percent all long gaps together get at most
)

// axisSeg is one stretch of the axis: captured time, or a gap.
type axisSeg struct {
	t0, t1 time.Time
	x0, x1 float64 // percent
	gap    bool
}

// axis maps times to x positions (percent of the lanes' width).
type axis struct {
	start, end time.Time
	segs       []axisSeg
}

// newAxis covers start to end; spans are the sessions' capture windows
// (none: all of it was captured).
func newAxis(start, end time.Time, spans []analyze.CaptureSpan) axis {
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	a := axis{start: start, end: end}
	segs := coverage(start, end, spans)
	total := end.Sub(start).Seconds()
	// Long gaps get a fixed share; the rest is shared by duration.
	var long int
	for _, s := range segs {
		if s.gap && 100*s.t1.Sub(s.t0).Seconds()/total > gapMaxShare {
			long++
		}
	}
	fixed := min(gapMaxShare, gapTotalShare/float64(max(long, 1)))
	var rest float64 // seconds shared by duration
	for _, s := range segs {
		if !(s.gap && 100*s.t1.Sub(s.t0).Seconds()/total > gapMaxShare) {
			rest += s.t1.Sub(s.t0).Seconds()
		}
	}
	perSecond := (100 - fixed*float64(long)) / max(rest, 1e-9)
	x := 0.0
	for i := range segs {
		s := &segs[i]
		d := s.t1.Sub(s.t0).Seconds()
		w := d * perSecond
		if s.gap && 100*d/total > gapMaxShare {
			w = fixed
		}
		s.x0, s.x1 = x, x+w
		x += w
	}
	segs[len(segs)-1].x1 = 100
	a.segs = segs
	return a
}

// coverage splits start to end into captured stretches and gaps: the
// union of the spans, or all of it when there are none.
func coverage(start, end time.Time, spans []analyze.CaptureSpan) []axisSeg {
	if len(spans) == 0 {
		return []axisSeg{{t0: start, t1: end}}
	}
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(a, b analyze.CaptureSpan) int { return a.Start.Compare(b.Start) })
	var segs []axisSeg
	at := start
	for _, sp := range sorted {
		s0, s1 := maxTime(sp.Start, start), minTime(sp.End, end)
		if !s1.After(s0) && !s0.Equal(s1) {
			continue
		}
		if s0.After(at) {
			segs = append(segs, axisSeg{t0: at, t1: s0, gap: true})
		}
		if n := len(segs); n > 0 && !segs[n-1].gap && !s0.After(segs[n-1].t1) {
			segs[n-1].t1 = maxTime(segs[n-1].t1, s1)
		} else {
			segs = append(segs, axisSeg{t0: maxTime(s0, at), t1: s1})
		}
		at = maxTime(at, s1)
	}
	if end.After(at) {
		segs = append(segs, axisSeg{t0: at, t1: end, gap: len(segs) > 0})
	}
	if len(segs) == 0 {
		return []axisSeg{{t0: start, t1: end}}
	}
	return segs
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// pos is t's x position in percent, clamped to the axis.
func (a axis) pos(t time.Time) float64 {
	for _, s := range a.segs {
		if t.After(s.t1) {
			continue
		}
		if !t.After(s.t0) {
			return s.x0
		}
		return s.x0 + (s.x1-s.x0)*t.Sub(s.t0).Seconds()/s.t1.Sub(s.t0).Seconds()
	}
	return 100
}

// gaps returns the stretches no session captured.
func (a axis) gaps() []axisSeg {
	var out []axisSeg
	for _, s := range a.segs {
		if s.gap {
			out = append(out, s)
		}
	}
	return out
}

// ticks returns the times to label: five across an axis without gaps;
// otherwise the start of each captured stretch, its middle when it is
// wide, and the end of the last, leaving out a tick too close to the one
// before.
func (a axis) ticks() []time.Time {
	if len(a.segs) == 1 {
		span := a.end.Sub(a.start)
		out := make([]time.Time, 5)
		for i := range out {
			out[i] = a.start.Add(span * time.Duration(i) / 4)
		}
		return out
	}
	var out []time.Time
	last := -100.0
	add := func(t time.Time) {
		if x := a.pos(t); x-last >= 12 {
			out = append(out, t)
			last = x
		}
	}
	for _, s := range a.segs {
		if s.gap {
			continue
		}
		add(s.t0)
		if s.x1-s.x0 >= 30 {
			add(s.t0.Add(s.t1.Sub(s.t0) / 2))
		}
	}
	if last := a.segs[len(a.segs)-1]; !last.gap {
		if x := a.pos(last.t1); x-a.pos(out[len(out)-1]) < 12 {
			out = out[:len(out)-1] // the end matters more
		}
		out = append(out, last.t1)
	}
	return out
}
