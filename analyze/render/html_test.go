package render

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/flowaudit/flowaudit/analyze"
)

// TestHTMLStructure parses each page and checks what a reader relies on:
// every requirement is there with its status class, the summary cards
// agree with the report, the timeline has one dot per recorded attempt,
// nothing is loaded from elsewhere, and text from captures and catalogs
// stays text.
func TestHTMLStructure(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, fx.rep); err != nil {
				t.Fatal(err)
			}
			doc, err := html.Parse(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			articles := map[string]*html.Node{}
			counts := map[string]string{}
			var scripts, svgs, dots, spans int
			for n := range doc.Descendants() {
				if n.Type != html.ElementNode {
					continue
				}
				for _, a := range n.Attr {
					if (a.Key == "src" || a.Key == "href" || a.Key == "xlink:href") && !strings.HasPrefix(a.Val, "#") {
						t.Errorf("<%s %s=%q>: the page must not load anything", n.Data, a.Key, a.Val)
					}
					if a.Key == "style" && strings.Contains(a.Val, "url(") {
						t.Errorf("<%s style=%q>: no external resources in styles", n.Data, a.Val)
					}
				}
				switch n.Data {
				case "link", "iframe", "img", "object", "embed":
					t.Errorf("<%s> in a self-contained page", n.Data)
				case "script":
					scripts++
				case "style":
					if strings.Contains(text(n), "url(") || strings.Contains(text(n), "@import") {
						t.Error("<style> loads something")
					}
				case "svg":
					svgs++
				case "article":
					articles[attr(n, "id")] = n
				case "span":
					if st := attr(n, "data-count"); st != "" {
						counts[st] = text(n)
					}
				case "circle":
					dots++
				case "rect":
					if hasClass(n, "span-unexpected") {
						spans++
					}
				}
			}
			if scripts != 1 {
				t.Errorf("%d <script> elements, want only the filter script (catalog text must be escaped)", scripts)
			}
			attempts := 0
			for _, r := range fx.rep.Requirements {
				attempts += len(r.Timeline)
				n := articles["req-"+r.ID]
				if n == nil {
					t.Errorf("requirement %s missing", r.ID)
					continue
				}
				if !hasClass(n, "st-"+string(r.Status)) {
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
			if len(articles) != len(fx.rep.Requirements) {
				t.Errorf("%d requirement articles, report has %d", len(articles), len(fx.rep.Requirements))
			}
			for _, st := range append(analyze.Statuses, analyze.Unexpected) {
				if got, want := counts[string(st)], strconv.Itoa(fx.rep.Summary.Count(st)); got != want {
					t.Errorf("summary card %s = %q, report says %s", st, got, want)
				}
			}
			if attempts+len(fx.rep.Unexpected) > 0 && svgs != 1 {
				t.Errorf("%d timelines, want 1", svgs)
			}
			if dots != attempts {
				t.Errorf("timeline has %d dots, report has %d attempts", dots, attempts)
			}
			if spans != len(fx.rep.Unexpected) {
				t.Errorf("timeline has %d unexpected spans, report has %d groups", spans, len(fx.rep.Unexpected))
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
