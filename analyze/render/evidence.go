package render

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
)

// Time layouts: stamps are UTC with milliseconds; clock is for cells where
// the date is given once elsewhere.
const (
	stampLayout = "2006-01-02 15:04:05.000Z"
	clockLayout = "15:04:05.000"
)

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(stampLayout)
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

// hostsText renders the gateway addresses and how they were chosen.
func hostsText(h analyze.Hosts) string {
	addrs := addrsText(h.Addrs)
	if addrs == "" {
		addrs = "none"
	}
	if h.How != "" {
		return addrs + "; " + h.How
	}
	return addrs
}

func addrsText(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// productsText renders "mailcleaner (MailCleaner, 27 requirements)".
func productsText(ps []analyze.ProductSummary) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		title := p.Title
		if title == "" {
			title = p.Name
		}
		s[i] = fmt.Sprintf("%s (%s, %s)", p.Name, title, plural(p.Requirements, "requirement", "requirements"))
	}
	return strings.Join(s, "; ")
}

// coverageText is the evidence line: what was read, when, how much, and
// whether anything was lost.
// sidesText says which sides of the flows the capture holds (the report's
// coverage), per direction, leaving zeros out: "out: 16 both sides, 5
// originator only; in: 5 both sides; both directions shown"; "" for a
// report without coverage (older versions).
func sidesText(c *analyze.Coverage) string {
	if c == nil {
		return ""
	}
	dir := func(name string, d analyze.SideCounts) string {
		var parts []string
		for _, x := range []struct {
			n    int
			what string
		}{{d.Both, "both sides"}, {d.OrigOnly, "originator only"}, {d.RespOnly, "responder only"}} {
			if x.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
			}
		}
		if len(parts) == 0 {
			return name + ": none"
		}
		return name + ": " + strings.Join(parts, ", ")
	}
	s := dir("out", c.Out) + "; " + dir("in", c.In) + "; "
	var lacks []string
	for _, x := range []struct {
		chk        analyze.SideCheck
		what, seen string
	}{{c.Received, "received", "sent"}, {c.Sent, "sent", "received"}} {
		if x.chk.Missing {
			lacks = append(lacks, fmt.Sprintf("LACKS what the gateway %s (%d of %d established TCP flows show only what it %s)",
				x.what, x.chk.Without, x.chk.EstablishedTCP, x.seen))
		}
	}
	if len(lacks) == 0 {
		return s + "both directions shown"
	}
	return s + strings.Join(lacks, "; ")
}

func coverageText(c analyze.CaptureSummary) string {
	var b strings.Builder
	switch {
	case len(c.Files) == 1:
		b.WriteString(c.Files[0])
	case len(c.Files) > 1:
		fmt.Fprintf(&b, "%d files (%s)", len(c.Files), strings.Join(c.Files, ", "))
	case c.Iface != "":
		b.WriteString("interface " + c.Iface)
	default:
		b.WriteString(c.Backend)
	}
	if !c.Start.IsZero() {
		fmt.Fprintf(&b, ", %s to %s (%s)", stamp(c.Start), stamp(c.End), seconds(c.Seconds))
	}
	fmt.Fprintf(&b, ", %s, %s", plural(int(c.Packets), "packet", "packets"), plural(int(c.Flows), "flow", "flows"))
	if c.Undecodable > 0 {
		fmt.Fprintf(&b, ", %d undecodable", c.Undecodable)
	}
	if c.Duplicates > 0 {
		fmt.Fprintf(&b, ", %s seen again on another interface (not counted twice)", plural(int(c.Duplicates), "packet", "packets"))
	}
	if len(c.Nodes) > 0 {
		fmt.Fprintf(&b, ", nodes %s", strings.Join(c.Nodes, ", "))
	}
	if g := uncaptured(c); g > 0 {
		fmt.Fprintf(&b, ", nothing captured for %s between sessions", shortDuration(g))
	}
	if c.LossSeen {
		b.WriteString("; LOSS SEEN")
	} else {
		b.WriteString("; no loss seen")
	}
	return b.String()
}

// uncaptured is how long no session of merged sessions was capturing,
// between the first start and the last end.
func uncaptured(c analyze.CaptureSummary) time.Duration {
	if len(c.Spans) == 0 || !c.End.After(c.Start) {
		return 0
	}
	var d time.Duration
	for _, s := range coverage(c.Start, c.End, c.Spans) {
		if s.gap {
			d += s.t1.Sub(s.t0)
		}
	}
	return d.Round(time.Second)
}

func seconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.1f s", s)
	}
	return (time.Duration(s) * time.Second).String()
}

// lossText lists the loss signals and the consequence, or "" when none was
// seen.
func lossText(c analyze.CaptureSummary) string {
	if !c.LossSeen {
		return ""
	}
	what := strings.Join(c.Loss, ", ")
	if what == "" { // a report made before capture summaries listed it
		what = "loss signals seen"
	}
	if c.StoppedEarly {
		return what + ": never-seen verdicts may be wrong, and blocked/partial ones for attempts just before the cut"
	}
	return what + ": never-seen verdicts may be wrong"
}

// warnings returns the report's warnings, then the capture's, leaving out
// the loss warning when the coverage line already says it and a capture
// warning the report already repeats (a read error).
func warnings(rep *analyze.Report) []string {
	var out []string
	for _, w := range rep.Warnings {
		if rep.Capture.LossSeen && strings.HasPrefix(w, "capture loss seen") {
			continue
		}
		out = append(out, w)
	}
	for _, w := range rep.Capture.Warnings {
		if !slices.Contains(rep.Warnings, w) {
			out = append(out, w)
		}
	}
	return out
}

// housekeepingText summarises link-local chatter in one line.
func housekeepingText(hs []analyze.Housekeeping) string {
	if len(hs) == 0 {
		return "none"
	}
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = fmt.Sprintf("%s %s (%s)", h.Kind, plural(h.Flows, "flow", "flows"), plural(int(h.Packets), "packet", "packets"))
	}
	return strings.Join(s, ", ")
}

// localDropsText lists what the gateway's own kernel dropped during a
// live capture, most packets first: "packets this gateway's own kernel
// dropped, by reason: netfilter-drop 5, ip-outnoroutes 1" ("none" when
// the drop probe saw nothing); "" when no probe ran (a
// replay, or the probe could not load: a warning says so).
func localDropsText(c analyze.CaptureSummary) string {
	if c.LocalDrops == nil {
		return ""
	}
	by := c.LocalDrops.ByReason
	reasons := make([]string, 0, len(by))
	for r := range by {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int { return cmp.Or(cmp.Compare(by[b], by[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s %d", r, by[r])
	}
	out := strings.Join(parts, ", ")
	if out == "" {
		out = "none"
	}
	if n := c.LocalDrops.Lost; n > 0 {
		out += fmt.Sprintf(" (%d more not recorded)", n)
	}
	return "packets this gateway's own kernel dropped, by reason: " + out
}
