package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// timeline is the HTML page's picture of attempts over capture time: one
// row per requirement with attempts (not-applicable ones left out) and
// per unexpected group, in the report's section order, then one row per
// node of merged sessions showing when it captured. Positions are
// percentages of the lanes' width (axis), so the lanes fill the page and
// scroll below their minimum width.
type timeline struct {
	Rows   []tlRow
	Ticks  []tlTick
	Gaps   []tlGap
	Height int
	AxisY  int
	// RowInner is a lane's height (a row less the space between lanes).
	RowInner int
	Start    string
	End      string
	Density  bool // some row is a density strip (legend)
	NotSent  bool // some mark is an attempt the gateway dropped itself (legend)
}

type tlRow struct {
	Y      int
	Label  string
	Status string // CSS class suffix: a status, "unexpected" or "capture"
	Marks  []tlMark
	Bars   []tlBar
}

// tlMark is one flow (or, for an unexpected group, the flows of one
// moment) drawn as its outcome's shape.
type tlMark struct {
	X       string
	Y       int
	Shape   string // id of the shape in the SVG's defs
	Outcome string // CSS class suffix
	Tip     string
}

// tlBar is a rectangle: a density bar, or a node's capture window.
type tlBar struct {
	X, W    string
	Y, H    int
	Outcome string
	Tip     string
}

type tlTick struct {
	X, Anchor, Label string
}

type tlGap struct {
	X, W, Mid  string
	Label, Tip string
}

const (
	tlRowH      = 22
	tlAxisH     = 30
	tlGapLabelH = 16
	tlBarMaxH   = 16
	// tlMaxMarks is the most flows a row draws one by one; beyond, or
	// when the report kept only some of them (an activity), the row is a
	// density strip.
	tlMaxMarks = 200
)

// markShape is the shape of each outcome: distinct shapes, not only
// colours, tell them apart.
var markShape = map[string]string{
	"established": "m-circle", "rejected": "m-cross", "unreachable": "m-triangle", "unanswered": "m-square",
	"unknown": "m-dot", analyze.OutcomePending: "m-ring", "unexpected": "m-diamond",
	// Dropped by the gateway before it left: a bar, as at a gate.
	string(flow.NotSent): "m-bar",
	// Not judged (a side missing from the capture): drawn as unknown, its
	// tooltip says inconclusive.
	analyze.OutcomeInconclusive: "m-dot",
}

func pct(x float64) string { return fmt.Sprintf("%.2f%%", x) }

func newTimeline(rep *analyze.Report) *timeline {
	start, end := timelineSpan(rep)
	ax := newAxis(start, end, rep.Capture.Spans)
	tl := &timeline{Start: stamp(start), End: stamp(end), RowInner: tlRowH - 2}
	for _, s := range sections {
		if s.status == analyze.Unexpected {
			for _, u := range rep.Unexpected {
				tl.add(unexpectedRow(ax, u))
			}
			continue
		}
		if s.status == analyze.NotApplicable {
			continue // no flow an applicable requirement explains; unexpected ones are drawn there
		}
		for _, r := range byStatus(rep, s.status) {
			if len(r.Timeline) > 0 || r.Activity != nil {
				tl.add(requirementRow(rep, ax, r))
			}
		}
	}
	if len(tl.Rows) == 0 {
		return nil
	}
	for _, node := range spanNodes(rep.Capture.Spans) {
		row := tlRow{Label: "captured on " + node, Status: "capture"}
		for _, sp := range rep.Capture.Spans {
			if sp.Node == node {
				x0, x1 := ax.pos(sp.Start), ax.pos(sp.End)
				row.Bars = append(row.Bars, tlBar{X: pct(x0), W: pct(max(x1-x0, 0.3)), H: 6, Outcome: "capture",
					Tip: fmt.Sprintf("%s captured from %s to %s", node, stamp(sp.Start), stamp(sp.End))})
			}
		}
		tl.add(row)
	}
	tl.AxisY = len(tl.Rows) * tlRowH
	tl.Height = tl.AxisY + tlAxisH
	if len(ax.gaps()) > 0 {
		tl.Height += tlGapLabelH // the gaps' lengths under the times
	}
	for _, g := range ax.gaps() {
		d := g.t1.Sub(g.t0).Round(time.Second)
		tl.Gaps = append(tl.Gaps, tlGap{X: pct(g.x0), W: pct(g.x1 - g.x0), Mid: pct((g.x0 + g.x1) / 2), Label: shortDuration(d),
			Tip: fmt.Sprintf("nothing captured from %s to %s (%s)", stamp(g.t0), stamp(g.t1), d)})
	}
	for _, t := range ax.ticks() {
		x := ax.pos(t)
		anchor := "middle"
		switch {
		case x < 4:
			anchor = "start"
		case x > 96:
			anchor = "end"
		}
		tl.Ticks = append(tl.Ticks, tlTick{X: pct(x), Anchor: anchor, Label: tickLabel(t, end.Sub(start))})
	}
	return tl
}

// add places row below the others.
func (tl *timeline) add(row tlRow) {
	y := len(tl.Rows) * tlRowH
	row.Y = y
	for i := range row.Marks {
		row.Marks[i].Y = y + tlRowH/2
		if row.Marks[i].Outcome == string(flow.NotSent) {
			tl.NotSent = true
		}
	}
	for i := range row.Bars {
		b := &row.Bars[i]
		if b.Outcome == "capture" {
			b.Y = y + (tlRowH-b.H)/2
		} else {
			b.Y += y
			tl.Density = true
		}
	}
	tl.Rows = append(tl.Rows, row)
}

// timelineSpan is the capture's window, widened to every time drawn
// (reports built without capture times get an axis from the evidence).
func timelineSpan(rep *analyze.Report) (start, end time.Time) {
	start, end = rep.Capture.Start, rep.Capture.End
	widen := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if t.After(end) {
			end = t
		}
	}
	for _, r := range rep.Requirements {
		for _, a := range r.Timeline {
			widen(a.Time)
		}
		widenPtr(&start, &end, r.FirstSeen, r.LastSeen)
	}
	for _, u := range rep.Unexpected {
		widen(u.FirstSeen)
		widen(u.LastSeen)
	}
	// An activity's first bucket starts before its first flow (buckets
	// are aligned): it is clamped to the axis, not widening it.
	return start, end
}

// widenPtr widens start to end to first and last seen, when known.
func widenPtr(start, end *time.Time, first, last *time.Time) {
	if first != nil && (start.IsZero() || first.Before(*start)) {
		*start = *first
	}
	if last != nil && last.After(*end) {
		*end = *last
	}
}

// requirementRow draws a requirement's attempts, or its activity as a
// density strip when the report kept only some of them.
func requirementRow(rep *analyze.Report, ax axis, r analyze.Requirement) tlRow {
	row := tlRow{Label: shortID(rep, r.ID) + " " + reqPort(r.Protocol, r.Ports), Status: string(r.Status)}
	if r.Activity != nil {
		row.Bars = densityBars(ax, r.Activity)
		return row
	}
	for _, a := range r.Timeline {
		tip := fmt.Sprintf("%s %s %s", stamp(a.Time), a.Peer, a.Outcome)
		if a.Reason != "" {
			tip += " (" + a.Reason.Text() + ")"
		}
		if a.Node != "" {
			tip += " on " + a.Node
		}
		if a.Process != nil {
			tip += fmt.Sprintf(", by %s (pid %d)", a.Process.Comm, a.Process.PID)
		}
		row.Marks = append(row.Marks, tlMark{X: pct(ax.pos(a.Time)), Shape: shapeOf(a.Outcome), Outcome: a.Outcome, Tip: tip})
	}
	return row
}

func shapeOf(outcome string) string {
	if s, ok := markShape[outcome]; ok {
		return s
	}
	return markShape["unknown"]
}

// unexpectedRow draws an unexpected group: a diamond where its flows
// started (to the bucket of its activity), or a density strip for many
// flows.
func unexpectedRow(ax axis, u analyze.UnexpectedFlow) tlRow {
	row := tlRow{Label: "unexpected " + string(u.Direction) + " " + unexpectedPort(u), Status: string(analyze.Unexpected)}
	act := u.Activity
	switch {
	case act == nil: // a report from before activities: first and last seen
		for _, t := range []time.Time{u.FirstSeen, u.LastSeen} {
			row.Marks = append(row.Marks, tlMark{X: pct(ax.pos(t)), Shape: markShape["unexpected"], Outcome: "unexpected",
				Tip: fmt.Sprintf("%s: %s", stamp(t), outcomesText(u.Counts, u.Reasons))})
		}
	case u.Counts.Flows > tlMaxMarks:
		row.Bars = densityBars(ax, act)
	default:
		w := time.Duration(act.BucketMS) * time.Millisecond
		for i := range act.Established {
			n := act.Established[i] + act.Failed[i] + act.Other[i]
			if n == 0 {
				continue
			}
			t := act.Start.Add(time.Duration(i) * w)
			row.Marks = append(row.Marks, tlMark{X: pct(ax.pos(t.Add(w / 2))), Shape: markShape["unexpected"], Outcome: "unexpected",
				Tip: fmt.Sprintf("%s: %s", stamp(t), bucketText(act, i))})
		}
	}
	return row
}

// densityBars draws an activity as stacked bars, one per bucket, their
// heights relative to the row's busiest bucket: failed flows at the
// bottom, then established, then the others.
func densityBars(ax axis, act *analyze.Activity) []tlBar {
	peak := 1
	for i := range act.Established {
		peak = max(peak, act.Established[i]+act.Failed[i]+act.Other[i])
	}
	w := time.Duration(act.BucketMS) * time.Millisecond
	var out []tlBar
	for i := range act.Established {
		t0 := act.Start.Add(time.Duration(i) * w)
		x0, x1 := ax.pos(t0), ax.pos(t0.Add(w))
		base := tlRowH - 3
		for _, k := range []struct {
			n       int
			outcome string
		}{{act.Failed[i], "failed"}, {act.Established[i], "established"}, {act.Other[i], "unknown"}} {
			if k.n == 0 {
				continue
			}
			h := max(1, (k.n*tlBarMaxH+peak-1)/peak)
			base -= h
			out = append(out, tlBar{X: pct(x0), W: pct(max(x1-x0, 0.15)), Y: base, H: h, Outcome: k.outcome,
				Tip: fmt.Sprintf("%s: %s", stamp(t0), bucketText(act, i))})
		}
	}
	return out
}

// bucketText counts one bucket's flows: "12 flows: 9 established, 3
// failed".
func bucketText(act *analyze.Activity, i int) string {
	e, f, o := act.Established[i], act.Failed[i], act.Other[i]
	s := plural(e+f+o, "flow", "flows") + " in " + (time.Duration(act.BucketMS) * time.Millisecond).String()
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{e, "established"}, {f, "failed"}, {o, "unknown or pending"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	return s + ": " + strings.Join(parts, ", ")
}

// spanNodes lists the nodes of the capture spans, in order of first span.
func spanNodes(spans []analyze.CaptureSpan) []string {
	var out []string
	seen := map[string]bool{}
	for _, sp := range spans {
		if !seen[sp.Node] {
			seen[sp.Node] = true
			out = append(out, sp.Node)
		}
	}
	return out
}

// shortDuration renders a gap's length briefly: "2h13m", "45s".
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, (d%time.Minute)/time.Second)
	}
	return d.Round(time.Second).String()
}

// tickLabel shows as much of the time as the span needs.
func tickLabel(t time.Time, span time.Duration) string {
	t = t.UTC()
	switch {
	case span < time.Minute:
		return t.Format("15:04:05.000")
	case span < 24*time.Hour:
		return t.Format("15:04:05")
	}
	return t.Format("01-02 15:04")
}
