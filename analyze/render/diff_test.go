package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/flowaudit/flowaudit/analyze"
)

// diffFixture diffs the synthetic report against a copy in which every
// requirement changed status one way or another and an unexpected group
// went away, so every section of the diff renderers is drawn.
func diffFixture(t *testing.T) *analyze.Diff {
	t.Helper()
	before, after := syntheticReport(t), syntheticReport(t)
	next := map[analyze.Status]analyze.Status{analyze.OK: analyze.Blocked, analyze.Blocked: analyze.OK,
		analyze.Partial: analyze.NeverSeen, analyze.NeverSeen: "inconclusive"}
	for i := range after.Requirements {
		r := &after.Requirements[i]
		if st, ok := next[r.Status]; ok {
			r.Status = st
		}
		if r.Status == analyze.Blocked && r.Reason == "" {
			r.Reason = analyze.ReasonUnanswered
			r.Reasons = []analyze.ReasonCount{{Reason: analyze.ReasonUnanswered, Flows: 1}}
		}
	}
	if len(after.Unexpected) > 0 {
		after.Unexpected = after.Unexpected[1:]
	}
	after.Capture.Start = after.Capture.Start.Add(time.Hour)
	return analyze.Compare(before, after)
}

// hostileDiff is diffFixture with hostile text in every field that comes
// from a report file: ids, services, peer names, notes, capture files,
// how the hosts were found, products, the tool.
func hostileDiff(t *testing.T) *analyze.Diff {
	t.Helper()
	d := diffFixture(t)
	d.Tool = hostile("tool")
	for _, s := range []*analyze.DiffSide{&d.Before, &d.After} {
		s.File = hostile("file")
		s.Capture.Files = []string{hostile("capture")}
		s.Hosts.How = hostile("hostshow")
		s.Products[0].Title = hostile("title")
	}
	d.Mismatch = hostile("mismatch")
	d.Warnings = append(d.Warnings, hostile("warning"))
	for i := range d.Requirements {
		c := &d.Requirements[i]
		c.ID, c.Service = hostile("id"), hostile("service")
		for _, s := range []*analyze.RequirementState{c.Before, c.After} {
			if s == nil {
				continue
			}
			s.Note = hostile("note")
			for j := range s.Peers {
				s.Peers[j].Names = []string{hostile("name")}
			}
		}
	}
	for i := range d.Unexpected {
		for _, s := range []*analyze.UnexpectedState{d.Unexpected[i].Before, d.Unexpected[i].After} {
			if s == nil {
				continue
			}
			s.PeerNotAllowed = []string{hostile("peer-not-allowed")}
			for j := range s.Peers {
				s.Peers[j].Names = []string{hostile("unexpected-name")}
			}
		}
	}
	return d
}

// TestDiffFixtureCategories: the fixture reaches the sections the
// hostile-text test must see drawn.
func TestDiffFixtureCategories(t *testing.T) {
	d := diffFixture(t)
	for _, c := range []analyze.DiffCategory{analyze.DiffNewlyFailing, analyze.DiffFixed, analyze.DiffNoLongerSeen,
		analyze.DiffNotJudged, analyze.DiffGoneUnexpected, analyze.DiffStillUnexpected, analyze.DiffNotApplicable} {
		if d.Summary.Count(c) == 0 {
			t.Errorf("the fixture has no %s", c)
		}
	}
	for _, c := range analyze.DiffCategories {
		if diffTitle[c] == "" {
			t.Errorf("category %s has no title", c)
		}
	}
	for _, c := range append(diffRequirementSections, diffUnexpectedSections...) {
		if diffHint[c] == "" {
			t.Errorf("section %s has no hint", c)
		}
	}
}

// TestDiffHostileText: whatever the two reports hold, no diff format
// writes a raw control, bidi or invisible character, the forged summary
// never starts a line, Markdown tables keep their cells and the HTML page
// keeps markup as text and runs nothing.
func TestDiffHostileText(t *testing.T) {
	d := hostileDiff(t)
	for _, format := range []string{"table", "color", "markdown", "html"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			var err error
			switch format {
			case "table", "color":
				err = DiffTable(&b, d, Options{Color: format == "color"})
			case "markdown":
				err = DiffMarkdown(&b, d)
			case "html":
				err = DiffHTML(&b, d)
			}
			if err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if format == "color" {
				out = ansi.ReplaceAllString(out, "")
			}
			if bad := rawHidden(out, format == "html"); bad != "" {
				t.Errorf("raw %s in the output", bad)
			}
			if format != "html" {
				checkNoForgedLine(t, out)
			}
			for _, tag := range []string{"file", "capture", "hostshow", "title", "mismatch", "warning", "id", "name", "note", "unexpected-name", "peer-not-allowed"} {
				if !strings.Contains(out, tag) {
					t.Errorf("%s not shown at all", tag)
				}
			}
			switch format {
			case "markdown":
				checkMarkdownCells(t, out)
				if strings.Contains(out, "<img") {
					t.Error("raw <img> in the Markdown")
				}
			case "html":
				checkDiffHTMLInert(t, out)
			}
		})
	}
}

// checkDiffHTMLInert: no script at all, no img, no event handler, no
// style attribute.
func checkDiffHTMLInert(t *testing.T, page string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "img" || n.Data == "script" {
			t.Errorf("a <%s> element in the diff page", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
				t.Errorf("<%s %s>: the policy allows no event handler or style attribute", n.Data, a.Key)
			}
		}
	}
}

// TestDiffHTMLPolicy: the page carries the strict policy with the hash of
// the style it inlines, and nothing else that would need one.
func TestDiffHTMLPolicy(t *testing.T) {
	var b bytes.Buffer
	if err := DiffHTML(&b, diffFixture(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	want := `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ` + cspHash(string(diffStyle)) + `; base-uri 'none'; form-action 'none'">`
	if !strings.Contains(page, want) {
		t.Errorf("the page lacks %s", want)
	}
	if !strings.Contains(page, "<style>"+string(diffStyle)+"</style>") {
		t.Error("the inlined style is not the bytes the policy hashes")
	}
	if strings.Count(page, "<style") != 1 || strings.Contains(page, "<script") || strings.Contains(page, " style=") {
		t.Error("another style, a script or a style attribute in the page")
	}
	checkDiffHTMLInert(t, page)
}

// TestDiffHTMLCSPChromium: the diff page loads in headless Chromium with
// no CSP violation logged, and the check can fail: a style attribute
// added to it is reported.
func TestDiffHTMLCSPChromium(t *testing.T) {
	bin := chromium(t)
	var b bytes.Buffer
	if err := DiffHTML(&b, hostileDiff(t)); err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{"diff": b.String(),
		"tampered": strings.Replace(b.String(), `<p class="summary"`, `<p style="color: red" class="summary"`, 1)}
	dir := t.TempDir()
	for name, page := range pages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, name+".html")
			if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
			dom, log := loadInChromium(t, bin, path)
			if !strings.Contains(dom, `id="summary"`) {
				t.Errorf("the page did not render (DOM %d bytes)", len(dom))
			}
			msgs := cspMessages(log)
			if name == "diff" {
				for _, m := range msgs {
					t.Error(m)
				}
				return
			}
			if all := strings.Join(msgs, "\n"); !strings.Contains(all, "Applying inline style violates") {
				t.Errorf("no violation logged for a style attribute: the check would miss one\n%s", all)
			}
		})
	}
}
