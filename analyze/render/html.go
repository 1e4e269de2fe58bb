package render

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/internal/escape"
)

//go:embed html.tmpl
var htmlSource string

// The page's only style sheet and script, inlined as they are (typed
// template.CSS and template.JS: html/template would strip their comments
// and change the bytes the policy hashes).
var (
	//go:embed html.css
	htmlCSS string
	//go:embed html.js
	htmlJS string

	htmlStyle  = template.CSS("\n" + htmlCSS)
	htmlScript = template.JS("\n" + htmlJS)
)

// htmlCSP is the page's Content-Security-Policy: nothing may load, and
// only the inline style and script whose SHA-256 the policy names may
// apply or run. It is the second wall behind html/template's escaping: a
// name that slipped an element or attribute through could still neither
// run script, load an image (a tracking pixel) nor send a form. The hashes
// are computed here, from the bytes inlined, so they cannot drift from
// them. The page has no style attributes (the policy would refuse them)
// and loads no image, so img-src stays 'none'.
var htmlCSP = fmt.Sprintf("default-src 'none'; style-src %s; script-src %s; base-uri 'none'; form-action 'none'",
	cspHash(string(htmlStyle)), cspHash(string(htmlScript)))

// htmlCSPMeta is the policy's meta tag, written as it is: html/template
// would turn its quotes into entities, which mean the same but read worse.
// The policy is this package's constant text (letters, quotes, base64).
var htmlCSPMeta = template.HTML(`<meta http-equiv="Content-Security-Policy" content="` + htmlCSP + `">`)

// cspHash is a CSP hash source for an inline element's text.
func cspHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp":    stamp,
	"stampPtr": stampPtr,
	"port":     reqPort,
	"uport":    unexpectedPort,
	"outcomes": outcomesText,
	"counts":   countsText,
	"allowed":  allowedText,
	"join":     strings.Join,
	"short":    shortID,
	"dir":      dirText,
	"title":    func(s analyze.Status) string { return statusTitle[s] },
}).Parse(htmlSource))

// HTML writes the report as one self-contained page: inline CSS and SVG,
// no external assets, readable without JavaScript (a few lines of inline
// script only filter by status), under a strict Content-Security-Policy
// (htmlCSP). Every value is escaped by html/template; then control, bidi
// and other invisible characters, which html/template leaves alone, are
// shown visibly (escape.Text), so a name cannot read differently from
// what it is. The template itself has none of them.
func HTML(w io.Writer, rep *analyze.Report) error {
	v := newHTMLView(rep)
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, v); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	_, err := io.WriteString(w, escape.Text(b.String()))
	return err
}

// htmlView is what the template reads: the report plus what is easier to
// compute in Go (groups, the summary cards, the timeline geometry).
type htmlView struct {
	CSP      template.HTML
	Style    template.CSS
	Script   template.JS
	Rep      *analyze.Report
	Title    string
	Summary  string
	Cards    []htmlCard
	Groups   []htmlGroup
	Coverage string
	Loss     string
	Warnings []string
	Hosts    string
	Products string
	House    string
	Timeline *timeline
	// Noise is the noise line; UnexpectedFolded counts the unexpected
	// groups not listed. Both empty when there are none.
	Noise, UnexpectedFolded string
	// UnexpectedPeersFolded says, per unexpected group (same index), what
	// its folded peers amount to.
	UnexpectedPeersFolded []string
}

type htmlCard struct {
	Status analyze.Status
	Label  string
	Count  int
}

type htmlGroup struct {
	Status analyze.Status
	Title  string
	Reqs   []htmlReq
}

type htmlReq struct {
	analyze.Requirement
	Short     string
	Port      string
	Reasons   []string
	Condition string
	Hint      string
	Outcomes  []outcomeBar
	// Open shows the evidence unfolded: for the statuses that need action
	// (ok and not-applicable fold it away; <details> needs no script).
	Open bool
	// Brief is the one line folded requirements show: flows and peers, or
	// the condition that is off.
	Brief string
	// PeersHead are shown; PeersTail fold away; PeersMore counts those
	// the report left out.
	PeersHead, PeersTail []analyze.PeerSeen
	PeersMore            int
	// Folded says what the requirement's folded peers amount to.
	Folded string
}

// htmlPeersShown is how many peers a requirement shows before folding.
const htmlPeersShown = 10

// outcomeBar is one segment of a requirement's outcome bar: an SVG rect
// from X to X+Percent in a 100-wide box (SVG attributes, not a style
// attribute, which the CSP would refuse).
type outcomeBar struct {
	Outcome    string
	Count      int
	X, Percent string
}

func newHTMLView(rep *analyze.Report) *htmlView {
	v := &htmlView{CSP: htmlCSPMeta, Style: htmlStyle, Script: htmlScript, Rep: rep, Summary: SummaryLine(rep), Coverage: coverageText(rep.Capture),
		Loss: lossText(rep.Capture), Warnings: warnings(rep), Hosts: hostsText(rep.Hosts),
		Products: productsText(rep.Products), House: housekeepingText(rep.Housekeeping),
		Title: "flowaudit report: " + productNames(rep.Products)}
	for _, st := range analyze.Statuses {
		v.Cards = append(v.Cards, htmlCard{Status: st, Label: strings.ToLower(statusTitle[st]), Count: rep.Summary.Count(st)})
		reqs := byStatus(rep, st)
		if len(reqs) == 0 {
			continue
		}
		g := htmlGroup{Status: st, Title: statusTitle[st]}
		for _, r := range reqs {
			hr := htmlReq{Requirement: r, Short: shortID(rep, r.ID), Port: reqPort(r.Protocol, r.Ports),
				Condition: conditionText(r.Condition, rep.Features), Open: st != analyze.OK && st != analyze.NotApplicable}
			if st == analyze.Blocked || st == analyze.Partial {
				hr.Reasons = reasonLines(r)
				hr.Hint = reasonHint(r.Reason)
			}
			hr.Outcomes = outcomeBars(r.Counts)
			hr.Folded = foldedText(r.PeersFolded, r.FoldedCounts)
			hr.PeersHead, hr.PeersMore = r.Peers, r.PeersOmitted
			if len(r.Peers) > htmlPeersShown {
				hr.PeersHead, hr.PeersTail = r.Peers[:htmlPeersShown], r.Peers[htmlPeersShown:]
			}
			if !hr.Open {
				hr.Brief = plural(r.Counts.Flows, "flow", "flows")
				if len(r.Peers) > 0 {
					hr.Brief += " · " + strings.Join(peersList(r.Peers, r.PeersOmitted, r.PeersFolded), ", ")
				}
				if st == analyze.NotApplicable {
					hr.Brief = hr.Condition + " · " + hr.Brief
				}
			}
			g.Reqs = append(g.Reqs, hr)
		}
		v.Groups = append(v.Groups, g)
	}
	v.Cards = append(v.Cards, htmlCard{Status: analyze.Unexpected, Label: "unexpected", Count: rep.Summary.Unexpected})
	v.Timeline = newTimeline(rep)
	v.Noise, v.UnexpectedFolded = noiseText(rep.Noise), unexpectedFoldedText(rep.UnexpectedFolded)
	for _, u := range rep.Unexpected {
		v.UnexpectedPeersFolded = append(v.UnexpectedPeersFolded, foldedText(u.PeersFolded, u.FoldedCounts))
	}
	return v
}

// outcomeBars splits a requirement's flows by outcome for a stacked bar.
func outcomeBars(c analyze.Counts) []outcomeBar {
	var out []outcomeBar
	if c.Flows == 0 {
		return nil
	}
	x := 0.0
	for _, s := range []struct {
		o string
		n int
	}{{"established", c.Established}, {"rejected", c.Rejected}, {"unreachable", c.Unreachable},
		{"unanswered", c.Unanswered}, {"unknown", c.Unknown}, {analyze.OutcomePending, c.Pending}} {
		if s.n > 0 {
			w := 100 * float64(s.n) / float64(c.Flows)
			out = append(out, outcomeBar{Outcome: s.o, Count: s.n, X: fmt.Sprintf("%.2f", x), Percent: fmt.Sprintf("%.2f", w)})
			x += w
		}
	}
	return out
}

// timeline is the SVG of attempts over capture time: one row per
// requirement with attempts, one per unexpected group (a span from first
// to last seen, since groups keep no per-flow times), dots coloured by
// outcome.
type timeline struct {
	Width, Height int
	Left, Right   int // x of the time axis ends
	LaneW         int
	Rows          []timelineRow
	Ticks         []timelineTick
	AxisY         int
	Start, End    string
	// Omitted counts attempts not drawn as dots (after each requirement's
	// first MaxTimeline).
	Omitted int
	MaxDots int
}

type timelineRow struct {
	Y int
	// Range spans first to last seen behind the dots: with many attempts
	// only the first MaxTimeline are dots, the range shows the rest.
	Range  *timelineSpan
	Label  string
	Status string // CSS class suffix: a status or "unexpected"
	Dots   []timelineDot
	Span   *timelineSpan
}

type timelineDot struct {
	X       string
	Y       int
	Outcome string
	Tip     string
}

type timelineSpan struct {
	X, W string
	Y    int
	Tip  string
}

type timelineTick struct {
	X     string
	Label string
}

const (
	tlWidth  = 1140
	tlLeft   = 330
	tlRight  = 1080
	tlRowH   = 22
	tlTop    = 10
	tlBottom = 34
)

func newTimeline(rep *analyze.Report) *timeline {
	start, end := rep.Capture.Start, rep.Capture.End
	// Reports built without capture times still get an axis from the
	// evidence itself.
	for _, r := range rep.Requirements {
		for _, a := range r.Timeline {
			if start.IsZero() || a.Time.Before(start) {
				start = a.Time
			}
			if a.Time.After(end) {
				end = a.Time
			}
		}
	}
	tl := &timeline{Width: tlWidth, Left: tlLeft, Right: tlRight, LaneW: tlRight - tlLeft, MaxDots: analyze.MaxTimeline}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) float64 {
		return tlLeft + float64(tlRight-tlLeft)*float64(t.Sub(start))/float64(span)
	}
	y := tlTop
	for _, st := range analyze.Statuses {
		for _, r := range byStatus(rep, st) {
			if len(r.Timeline) == 0 {
				continue
			}
			row := timelineRow{Y: y, Label: shortID(rep, r.ID) + " " + reqPort(r.Protocol, r.Ports), Status: string(st)}
			if r.FirstSeen != nil && r.LastSeen != nil {
				x0, x1 := x(*r.FirstSeen), x(*r.LastSeen)
				row.Range = &timelineSpan{X: fmt.Sprintf("%.1f", x0), W: fmt.Sprintf("%.1f", max(x1-x0, 1)), Y: y + 7,
					Tip: fmt.Sprintf("%s to %s: %s", stamp(*r.FirstSeen), stamp(*r.LastSeen), outcomesText(r.Counts, r.Reasons))}
			}
			for _, a := range r.Timeline {
				tip := fmt.Sprintf("%s %s %s", stamp(a.Time), a.Peer, a.Outcome)
				if a.Reason != "" {
					tip += " (" + a.Reason.Text() + ")"
				}
				if a.Node != "" {
					tip += " on " + a.Node
				}
				row.Dots = append(row.Dots, timelineDot{X: fmt.Sprintf("%.1f", x(a.Time)), Y: y + 9, Outcome: a.Outcome, Tip: tip})
			}
			tl.Omitted += r.TimelineOmitted
			tl.Rows = append(tl.Rows, row)
			y += tlRowH
		}
	}
	for _, u := range rep.Unexpected {
		x0, x1 := x(u.FirstSeen), x(u.LastSeen)
		if x1-x0 < 4 { // keep short spans visible, inside the axis
			x1 = min(x0+4, tlRight)
			x0 = x1 - 4
		}
		row := timelineRow{Y: y, Label: "unexpected " + string(u.Direction) + " " + unexpectedPort(u), Status: string(analyze.Unexpected),
			Span: &timelineSpan{X: fmt.Sprintf("%.1f", x0), W: fmt.Sprintf("%.1f", x1-x0), Y: y + 4,
				Tip: fmt.Sprintf("%s to %s: %s", stamp(u.FirstSeen), stamp(u.LastSeen), outcomesText(u.Counts, u.Reasons))}}
		tl.Rows = append(tl.Rows, row)
		y += tlRowH
	}
	if len(tl.Rows) == 0 {
		return nil
	}
	tl.AxisY = y + 4
	tl.Height = y + tlBottom
	tl.Start, tl.End = stamp(start), stamp(end)
	for i := 0; i <= 4; i++ {
		t := start.Add(span * time.Duration(i) / 4)
		tl.Ticks = append(tl.Ticks, timelineTick{X: fmt.Sprintf("%.1f", x(t)), Label: tickLabel(t, span)})
	}
	return tl
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
