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

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/flow"
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

	htmlStyle  = template.CSS("\n" + paletteCSS() + htmlCSS)
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
	"breaks":   breakPoints,
	"procs":    processList,
}).Parse(htmlSource))

// HTML writes the report as one self-contained page: inline CSS and SVG,
// no external assets, readable without JavaScript (a few lines of inline
// script filter by status and open every <details> for printing), under
// a strict Content-Security-Policy (htmlCSP). Every value is escaped by
// html/template; then control, bidi and other invisible characters,
// which html/template leaves alone, are shown visibly (escape.Text), so a
// name cannot read differently from what it is. The template itself has
// none of them. opts.All lists the not-applicable requirements in full.
func HTML(w io.Writer, rep *analyze.Report, opts Options) error {
	v := newHTMLView(rep, opts)
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, v); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	_, err := io.WriteString(w, escape.Text(b.String()))
	return err
}

// htmlView is what the template reads: the report plus what is easier to
// compute in Go (sections, the summary cards, the timeline geometry).
type htmlView struct {
	CSP      template.HTML
	Style    template.CSS
	Script   template.JS
	Rep      *analyze.Report
	Title    string // the <title>: products, gateway, time
	Heading  string
	Subtitle string
	Summary  string
	Cards    []htmlCard
	Sections []htmlSection
	Coverage string
	Sides    string
	Loss     string
	Warnings []string
	Hosts    string
	Products string
	House    string
	Timeline *timeline
	// Noise is the noise line; UnexpectedFolded counts the unexpected
	// groups not listed. Both empty when there are none.
	Noise, UnexpectedFolded string
	// Unexpected are the unexpected groups with what the template shows
	// of them; UnexpectedProcs says whether any names its programs.
	Unexpected      []htmlUnexpected
	UnexpectedProcs bool
	Attribution     string
	// LocalDrops is what the gateway's own kernel dropped (live capture).
	LocalDrops string
}

type htmlCard struct {
	Status analyze.Status
	Label  string
	Count  int
}

// htmlSection is one section of the page, in the report's order: the
// requirements of one status, the unexpected groups (Unexpected), or the
// not-applicable requirements' one line (Fold).
type htmlSection struct {
	Status     analyze.Status
	Title      string
	Count      int
	Unexpected bool
	Fold       string
	Reqs       []htmlReq
}

type htmlUnexpected struct {
	analyze.UnexpectedFlow
	// Folded says what the group's folded peers amount to.
	Folded string
	Procs  []string
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
	Procs  []string
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

func newHTMLView(rep *analyze.Report, opts Options) *htmlView {
	v := &htmlView{CSP: htmlCSPMeta, Style: htmlStyle, Script: htmlScript, Rep: rep, Summary: SummaryLine(rep), Coverage: coverageText(rep.Capture), Sides: sidesText(rep.Coverage),
		Loss: lossText(rep.Capture), Warnings: warnings(rep), Hosts: hostsText(rep.Hosts),
		Products: productsText(rep.Products), House: housekeepingText(rep.Housekeeping),
		Heading: "flowaudit report: " + productNames(rep.Products), Attribution: rep.Capture.Attribution,
		LocalDrops: localDropsText(rep.Capture)}
	v.Title, v.Subtitle = htmlTitle(rep)
	for _, s := range sections {
		n := rep.Summary.Count(s.status)
		if n > 0 || !s.optional {
			v.Cards = append(v.Cards, htmlCard{Status: s.status, Label: strings.ToLower(s.title), Count: n})
		}
		if s.status == analyze.Unexpected {
			v.Sections = append(v.Sections, htmlSection{Status: s.status, Title: s.title, Count: len(rep.Unexpected), Unexpected: true})
			continue
		}
		reqs := byStatus(rep, s.status)
		if len(reqs) == 0 {
			continue
		}
		sec := htmlSection{Status: s.status, Title: s.title, Count: len(reqs)}
		if s.status == analyze.NotApplicable && !opts.All {
			sec.Fold = naFoldText(rep)
		} else {
			for _, r := range reqs {
				sec.Reqs = append(sec.Reqs, newHTMLReq(rep, r))
			}
		}
		v.Sections = append(v.Sections, sec)
	}
	v.Timeline = newTimeline(rep)
	v.Noise, v.UnexpectedFolded = noiseText(rep.Noise), unexpectedFoldedText(rep.UnexpectedFolded)
	for _, u := range rep.Unexpected {
		hu := htmlUnexpected{UnexpectedFlow: u, Folded: foldedText(u.PeersFolded, u.FoldedCounts), Procs: processList(u.Processes, u.ProcessFlowsOther)}
		v.UnexpectedProcs = v.UnexpectedProcs || len(hu.Procs) > 0
		v.Unexpected = append(v.Unexpected, hu)
	}
	return v
}

// newHTMLReq prepares one requirement's card.
func newHTMLReq(rep *analyze.Report, r analyze.Requirement) htmlReq {
	st := r.Status
	hr := htmlReq{Requirement: r, Short: shortID(rep, r.ID), Port: reqPort(r.Protocol, r.Ports),
		Condition: conditionText(r.Condition, rep.Features), Open: st != analyze.OK && st != analyze.NotApplicable,
		Procs: processList(r.Processes, r.ProcessFlowsOther)}
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
	return hr
}

// htmlTitle is the page's <title> and the line under its heading: the
// products, the gateway's addresses (the first two) and when the report
// was generated (or, without that, when the capture ended), so that tabs
// and files of several reports tell themselves apart.
func htmlTitle(rep *analyze.Report) (title, subtitle string) {
	gw := addrsText(rep.Hosts.Addrs[:min(len(rep.Hosts.Addrs), 2)])
	if n := len(rep.Hosts.Addrs); n > 2 {
		gw += fmt.Sprintf(" +%d", n-2)
	}
	title = "flowaudit: " + productNames(rep.Products)
	var sub []string
	if gw != "" {
		title += " on " + gw
		sub = append(sub, "gateway "+gw)
	}
	switch {
	case !rep.Generated.IsZero():
		t := rep.Generated.UTC().Format("2006-01-02 15:04Z")
		title += ", " + t
		sub = append(sub, "generated "+stamp(rep.Generated))
	case !rep.Capture.End.IsZero():
		title += ", captured " + rep.Capture.End.UTC().Format("2006-01-02 15:04Z")
		sub = append(sub, "captured until "+stamp(rep.Capture.End))
	}
	return title, strings.Join(sub, " · ")
}

// breakPoints splits a name after its dots and dashes, where the page
// lets a long name wrap (<wbr>) rather than anywhere.
func breakPoints(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if (s[i] == '.' || s[i] == '-') && i+1 < len(s) {
			out = append(out, s[start:i+1])
			start = i + 1
		}
	}
	return append(out, s[start:])
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
		{"unanswered", c.Unanswered}, {string(flow.NotSent), c.NotSent}, {"unknown", c.Unknown}, {analyze.OutcomePending, c.Pending}} {
		if s.n > 0 {
			w := 100 * float64(s.n) / float64(c.Flows)
			out = append(out, outcomeBar{Outcome: s.o, Count: s.n, X: fmt.Sprintf("%.2f", x), Percent: fmt.Sprintf("%.2f", w)})
			x += w
		}
	}
	return out
}
