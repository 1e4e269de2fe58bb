package render

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/internal/escape"
)

//go:embed diff.tmpl
var diffSource string

// The diff page's only style sheet, inlined as it is (typed template.CSS,
// as the report's: the policy hashes these exact bytes).
var (
	//go:embed diff.css
	diffCSS string

	diffStyle = template.CSS("\n" + diffCSS)
)

// diffCSP is the diff page's Content-Security-Policy, built as the
// report's (htmlCSP): nothing may load, and only the inline style whose
// SHA-256 it names may apply. The page has no script, so default-src
// 'none' forbids every script; there is no script-src to allow one.
var diffCSP = fmt.Sprintf("default-src 'none'; style-src %s; base-uri 'none'; form-action 'none'", cspHash(string(diffStyle)))

// diffCSPMeta is the policy's meta tag, written as it is (see htmlCSPMeta).
var diffCSPMeta = template.HTML(`<meta http-equiv="Content-Security-Policy" content="` + diffCSP + `">`)

var diffTemplate = template.Must(template.New("diff").Parse(diffSource))

// DiffHTML writes a diff as one self-contained page: the summary, a card
// per category that changed, both captures, then a table per category
// with each side's status as a coloured badge and its reasons. No script,
// no external resource, a strict Content-Security-Policy (diffCSP); every
// value is escaped by html/template, then invisible and control
// characters are shown visibly (escape.Text), as in the report's page.
func DiffHTML(w io.Writer, d *analyze.Diff) error {
	var b bytes.Buffer
	if err := diffTemplate.Execute(&b, newDiffView(d)); err != nil {
		return fmt.Errorf("render html diff: %w", err)
	}
	_, err := io.WriteString(w, escape.Text(b.String()))
	return err
}

// diffView is what the template reads.
type diffView struct {
	CSP       template.HTML
	Style     template.CSS
	Title     string
	Summary   string
	Cards     []diffCard
	Meta      []diffMeta
	Mismatch  string
	Warnings  []string
	Sections  []diffSection
	Footer    []string
	Tool      string
	Generated string
}

type diffCard struct {
	Category analyze.DiffCategory
	Class    string
	Label    string
	Count    int
}

type diffMeta struct{ Label, Text string }

type diffSection struct {
	Category  analyze.DiffCategory
	Class     string
	Title     string
	Hint      string
	Count     int
	NeverSeen bool
	PeersSide string
	Reqs      []diffReqRow
	Groups    []diffGroupRow
}

type diffReqRow struct {
	ID, Dir, Port, Service, Allowed, Note string
	Before, After                         diffState
	Peers                                 []string
}

// diffState is one side of a requirement: a badge (Class is a known
// status, "other" for one this version does not know, "none" when the
// side lacks the requirement) and the lines under it.
type diffState struct {
	Class, Label string
	Lines        []string
}

type diffGroupRow struct {
	Dir, Port, Before, After, Note string
	Peers                          []string
}

// diffClass is the colour family of each category's card and heading.
var diffClass = map[analyze.DiffCategory]string{
	analyze.DiffNewlyFailing: "cat-bad", analyze.DiffNewlyUnexpected: "cat-bad",
	analyze.DiffStillFailing: "cat-warn", analyze.DiffStillUnexpected: "cat-warn",
	analyze.DiffNoLongerSeen: "cat-warn", analyze.DiffNotJudged: "cat-warn",
	analyze.DiffFixed: "cat-good", analyze.DiffNowOK: "cat-good", analyze.DiffGoneUnexpected: "cat-good",
}

// diffCards are the categories with a card: those of the summary line,
// always, and the other changes when there are some.
var diffCards = []analyze.DiffCategory{analyze.DiffFixed, analyze.DiffNewlyFailing, analyze.DiffStillFailing, analyze.DiffNewlyUnexpected,
	analyze.DiffNoLongerSeen, analyze.DiffNotJudged, analyze.DiffNowOK, analyze.DiffGoneUnexpected, analyze.DiffStillUnexpected}

func newDiffView(d *analyze.Diff) *diffView {
	title := diffSingleProduct(d)
	if title == "" {
		title = productNames(d.After.Products)
	}
	v := &diffView{CSP: diffCSPMeta, Style: diffStyle, Title: "flowaudit diff: " + title, Summary: d.Summary.Line(),
		Mismatch: d.Mismatch, Warnings: d.Warnings, Footer: diffFooter(d), Tool: d.Tool}
	if !d.Generated.IsZero() {
		v.Generated = stamp(d.Generated)
	}
	for i, c := range diffCards {
		if n := d.Summary.Count(c); n > 0 || i < 4 {
			v.Cards = append(v.Cards, diffCard{Category: c, Class: cmp.Or(diffClass[c], "cat-quiet"), Label: strings.ToLower(diffTitle[c]), Count: n})
		}
	}
	v.Meta = []diffMeta{{"Before", sideText(d.Before)}, {"After", sideText(d.After)},
		{"Products", diffProductsText(d)}, {"Gateway", diffHostsText(d)}}
	for _, c := range analyze.DiffCategories {
		s := diffSection{Category: c, Class: cmp.Or(diffClass[c], "cat-quiet"), Title: diffTitle[c], Hint: diffHint[c]}
		switch {
		case slices.Contains(diffRequirementSections, c):
			s.NeverSeen = c == analyze.DiffNeverSeen
			for _, r := range changesIn(d, c) {
				s.PeersSide, _ = changePeers(r)
				s.Reqs = append(s.Reqs, diffReqRowOf(d, r))
			}
			s.Count = len(s.Reqs)
		case slices.Contains(diffUnexpectedSections, c):
			for _, u := range groupsIn(d, c) {
				s.Groups = append(s.Groups, diffGroupRow{Dir: string(u.Direction), Port: groupPort(u), Before: groupLines(u.Before)[0],
					After: groupLines(u.After)[0], Peers: groupPeers(u), Note: groupNote(u)})
			}
			s.Count = len(s.Groups)
		}
		if s.Count > 0 {
			v.Sections = append(v.Sections, s)
		}
	}
	return v
}

func diffReqRowOf(d *analyze.Diff, r analyze.RequirementChange) diffReqRow {
	_, peers := changePeers(r)
	return diffReqRow{ID: diffShortID(d, r.ID), Dir: string(r.Direction), Port: reqPort(r.Protocol, r.Ports), Service: r.Service,
		Allowed: allowedText(r.Allowed), Note: afterNote(r), Before: diffStateOf(r.Before, stateLines(r.Before)), After: diffStateOf(r.After, afterLines(r)), Peers: peers}
}

func afterNote(r analyze.RequirementChange) string {
	if r.After == nil {
		return ""
	}
	return r.After.Note
}

// diffBadgeStatuses are the statuses diff.css colours (.st-NAME); any
// other, such as a status added later, gets the neutral .st-other rather
// than a badge without a colour.
var diffBadgeStatuses = []analyze.Status{analyze.Blocked, analyze.Partial, analyze.NeverSeen, analyze.OK, analyze.NotApplicable}

// diffStateOf makes a badge of lines' first line (the status) and keeps
// the rest under it.
func diffStateOf(s *analyze.RequirementState, lines []string) diffState {
	st := diffState{Class: "none", Label: lines[0], Lines: lines[1:]}
	if s != nil {
		st.Class = "other"
		if slices.Contains(diffBadgeStatuses, s.Status) {
			st.Class = string(s.Status)
		}
	}
	return st
}
