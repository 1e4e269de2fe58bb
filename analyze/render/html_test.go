package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/flowaudit/flowaudit/analyze"
)

// TestHTMLStructure parses each page and checks what a reader relies on:
// every applicable requirement is there with its status class (the
// not-applicable ones folded to one line), the summary cards agree with
// the report, the timeline has a row per requirement with attempts and
// per unexpected group and a mark per flow it draws, nothing is loaded
// from elsewhere, and text from captures and catalogs stays text.
func TestHTMLStructure(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			doc, err := html.Parse(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			pg := scanPage(t, doc)
			if pg.scripts != 1 {
				t.Errorf("%d <script> elements, want only the page's script (catalog text must be escaped)", pg.scripts)
			}
			checkArticles(t, fx.rep, pg)
			for _, s := range sections {
				if got, want := pg.counts[string(s.status)], strconv.Itoa(fx.rep.Summary.Count(s.status)); got != want && !(s.optional && got == "") {
					t.Errorf("summary card %s = %q, report says %s", s.status, got, want)
				}
			}
			want := wantTimeline(fx.rep)
			if want.rows > 0 && pg.svgs != 1 {
				t.Errorf("%d timelines, want 1", pg.svgs)
			}
			if pg.labels != want.rows || pg.marks != want.marks || pg.naRows != 0 {
				t.Errorf("timeline: %d rows, %d marks, %d not-applicable rows; want %d rows, %d marks, none not applicable",
					pg.labels, pg.marks, pg.naRows, want.rows, want.marks)
			}
			if !strings.Contains(text(doc), SummaryLine(fx.rep)) {
				t.Errorf("summary line %q not on the page", SummaryLine(fx.rep))
			}
			if fx.rep.Capture.LossSeen && !strings.Contains(text(doc), "never-seen verdicts may be wrong") {
				t.Error("loss seen but the page does not warn that never-seen may be wrong")
			}
		})
	}
}

// page is what scanPage counts on a page.
type page struct {
	articles                                     map[string]*html.Node
	counts                                       map[string]string // summary cards
	scripts, svgs, marks, labels, naRows, naFold int
}

// scanPage walks the page: it fails on anything that would load or run
// (inline styles, handlers, links out) and counts what the checks need.
func scanPage(t *testing.T, doc *html.Node) page {
	t.Helper()
	pg := page{articles: map[string]*html.Node{}, counts: map[string]string{}}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		checkAttrs(t, n)
		switch n.Data {
		case "link", "iframe", "img", "object", "embed":
			t.Errorf("<%s> in a self-contained page", n.Data)
		case "script":
			pg.scripts++
		case "style":
			if strings.Contains(text(n), "url(") || strings.Contains(text(n), "@import") {
				t.Error("<style> loads something")
			}
		case "svg":
			if attr(n, "role") == "img" { // the timeline; outcome bars and legend keys are svg too
				pg.svgs++
			}
		case "article":
			pg.articles[attr(n, "id")] = n
		case "span":
			if st := attr(n, "data-count"); st != "" {
				pg.counts[st] = text(n)
			}
		case "use":
			if hasClass(n, "mark") {
				pg.marks++
			}
		case "div":
			if hasClass(n, "tl-label") {
				pg.labels++
				if hasClass(n, "st-not-applicable") {
					pg.naRows++
				}
			}
		case "p":
			if attr(n, "id") == "na-fold" {
				pg.naFold++
			}
		}
	}
	return pg
}

// checkAttrs fails on an attribute the CSP would refuse (inline style,
// event handler) or that loads something (a link out).
func checkAttrs(t *testing.T, n *html.Node) {
	t.Helper()
	for _, a := range n.Attr {
		if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
			t.Errorf("<%s %s=%q>: the CSP refuses inline styles and handlers", n.Data, a.Key, a.Val)
		}
		if (a.Key == "src" || a.Key == "href" || a.Key == "xlink:href") && !strings.HasPrefix(a.Val, "#") {
			t.Errorf("<%s %s=%q>: the page must not load anything", n.Data, a.Key, a.Val)
		}
	}
}

// checkArticles: a card per applicable requirement, with its status,
// vendor text and peers; the not-applicable ones folded to one line.
func checkArticles(t *testing.T, rep *analyze.Report, pg page) {
	t.Helper()
	for _, r := range rep.Requirements {
		n := pg.articles["req-"+r.ID]
		switch {
		case r.Status == analyze.NotApplicable:
			if n != nil {
				t.Errorf("not-applicable %s has a card without --all", r.ID)
			}
			continue
		case n == nil:
			t.Errorf("requirement %s missing", r.ID)
			continue
		case !hasClass(n, "st-"+string(r.Status)):
			t.Errorf("requirement %s: class %q, want st-%s", r.ID, attr(n, "class"), r.Status)
		}
		if r.Source.Text != "" && !strings.Contains(text(n), r.Source.Text) {
			t.Errorf("requirement %s: vendor text %q not shown", r.ID, r.Source.Text)
		}
		for _, p := range r.Peers {
			if !strings.Contains(text(n), p.Addr.String()) {
				t.Errorf("requirement %s: peer %s not shown", r.ID, p.Addr)
			}
		}
	}
	if applicable := len(rep.Requirements) - rep.Summary.NotApplicable; len(pg.articles) != applicable {
		t.Errorf("%d requirement articles, report has %d applicable", len(pg.articles), applicable)
	}
	if (rep.Summary.NotApplicable > 0) != (pg.naFold == 1) {
		t.Errorf("%d lines for %d not-applicable requirements", pg.naFold, rep.Summary.NotApplicable)
	}
}

// wantTimeline counts the timeline's rows and marks: one row per
// requirement with attempts (not applicable ones left out) and per
// unexpected group, one per node of merged sessions; a mark per attempt
// unless the report kept only some (a density strip then), a diamond
// per moment an unexpected group's flows started unless there are too
// many.
func wantTimeline(rep *analyze.Report) (w struct{ rows, marks int }) {
	for _, r := range rep.Requirements {
		if r.Status == analyze.NotApplicable || (len(r.Timeline) == 0 && r.Activity == nil) {
			continue
		}
		w.rows++
		if r.Activity == nil {
			w.marks += len(r.Timeline)
		}
	}
	for _, u := range rep.Unexpected {
		w.rows++
		if u.Counts.Flows > tlMaxMarks {
			continue
		}
		for i := range u.Activity.Established {
			if u.Activity.Established[i]+u.Activity.Failed[i]+u.Activity.Other[i] > 0 {
				w.marks++
			}
		}
	}
	if w.rows > 0 {
		w.rows += len(spanNodes(rep.Capture.Spans))
	}
	return w
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

// text is the text content of n and its descendants.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// TestHTMLCSP: the page carries a Content-Security-Policy that loads
// nothing, and its hashes are those of the one <style> and one <script>
// as written on the page, whatever the report holds.
func TestHTMLCSP(t *testing.T) {
	for _, fx := range append(liveFixtures(t), hostileFixture(t)) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			doc, err := html.Parse(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var policy string
			var inline []string // text of every <style> and <script>
			for n := range doc.Descendants() {
				if n.Type != html.ElementNode {
					continue
				}
				switch {
				case n.Data == "meta" && strings.EqualFold(attr(n, "http-equiv"), "content-security-policy"):
					if policy != "" {
						t.Error("two CSP meta tags")
					}
					if n.Parent == nil || n.Parent.Data != "head" {
						t.Error("the CSP meta tag is not in <head>")
					}
					policy = attr(n, "content")
				case n.Data == "style" || n.Data == "script":
					inline = append(inline, n.Data+" "+text(n))
				}
			}
			directives := map[string][]string{}
			for _, d := range strings.Split(policy, ";") {
				f := strings.Fields(d)
				if len(f) > 0 {
					directives[f[0]] = f[1:]
				}
			}
			if got := directives["default-src"]; len(got) != 1 || got[0] != "'none'" {
				t.Errorf("default-src %q, want 'none' (policy %q)", got, policy)
			}
			for _, d := range []string{"base-uri", "form-action"} {
				if got := directives[d]; len(got) != 1 || got[0] != "'none'" {
					t.Errorf("%s %q, want 'none'", d, got)
				}
			}
			if len(inline) != 2 {
				t.Fatalf("%d inline <style>/<script> elements, want one of each", len(inline))
			}
			for _, el := range inline {
				kind, body, _ := strings.Cut(el, " ")
				sum := sha256.Sum256([]byte(body))
				want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
				if got := directives[kind+"-src"]; len(got) != 1 || got[0] != want {
					t.Errorf("%s-src %q, want exactly the page's own %s hash %s", kind, got, kind, want)
				}
			}
		})
	}
}
