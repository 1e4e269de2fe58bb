package render

import (
	"math"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
)

// TestAxis: without spans the axis is linear; merged sessions' spans
// leave gaps, a long one drawn at a fixed share, overlapping spans make
// one stretch, and positions grow with time from 0 to 100 %.
func TestAxis(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	span := func(node string, from, to time.Duration) analyze.CaptureSpan {
		return analyze.CaptureSpan{Node: node, Start: at(from), End: at(to)}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.01 }

	lin := newAxis(at(0), at(100*time.Second), nil)
	if !near(lin.pos(at(25*time.Second)), 25) || len(lin.gaps()) != 0 || len(lin.ticks()) != 5 {
		t.Errorf("linear axis: pos(25 s) %.2f, %d gaps, %d ticks", lin.pos(at(25*time.Second)), len(lin.gaps()), len(lin.ticks()))
	}

	// gw1 0-10 min and 2 h-2 h 5 min, gw2 2-12 min (overlapping gw1).
	spans := []analyze.CaptureSpan{span("gw1", 0, 10*time.Minute), span("gw1", 2*time.Hour, 2*time.Hour+5*time.Minute),
		span("gw2", 2*time.Minute, 12*time.Minute)}
	ax := newAxis(at(0), at(2*time.Hour+5*time.Minute), spans)
	gaps := ax.gaps()
	if len(gaps) != 1 || !gaps[0].t0.Equal(at(12*time.Minute)) || !gaps[0].t1.Equal(at(2*time.Hour)) || !near(gaps[0].x1-gaps[0].x0, gapMaxShare) {
		t.Fatalf("gaps %+v, want one from 12 min to 2 h, %.0f %% wide", gaps, gapMaxShare)
	}
	// The 17 captured minutes share the other 95 %.
	if got, want := ax.pos(at(12*time.Minute)), 95*12.0/17; !near(got, want) {
		t.Errorf("pos(12 min) = %.2f, want %.2f", got, want)
	}
	if !near(ax.pos(at(0)), 0) || !near(ax.pos(at(2*time.Hour+5*time.Minute)), 100) || !near(ax.pos(at(-time.Hour)), 0) || !near(ax.pos(at(5*time.Hour)), 100) {
		t.Error("the axis does not run from 0 to 100 %, clamped")
	}
	last := -1.0
	for d := time.Duration(0); d <= 2*time.Hour+5*time.Minute; d += 30 * time.Second {
		x := ax.pos(at(d))
		if x < last {
			t.Fatalf("pos(%v) = %.2f goes back from %.2f", d, x, last)
		}
		last = x
	}
	ticks := ax.ticks()
	for i := 1; i < len(ticks); i++ {
		if ax.pos(ticks[i])-ax.pos(ticks[i-1]) < 12 {
			t.Errorf("ticks %v and %v too close", ticks[i-1], ticks[i])
		}
	}
	if len(ticks) < 3 || !ticks[len(ticks)-1].Equal(at(2*time.Hour+5*time.Minute)) {
		t.Errorf("ticks %v: want the stretches' starts and the end", ticks)
	}
	if d := uncaptured(analyze.CaptureSummary{Start: at(0), End: at(2*time.Hour + 5*time.Minute), Spans: spans}); d != 108*time.Minute {
		t.Errorf("uncaptured %v, want 1h48m", d)
	}
}
