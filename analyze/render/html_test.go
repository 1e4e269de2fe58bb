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
					if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("<%s %s=%q>: the CSP refuses inline styles and handlers", n.Data, a.Key, a.Val)
					}
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
					if attr(n, "role") == "img" { // the timeline; outcome bars are svg too
						svgs++
					}
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

// TestHTMLCSP: the page carries a Content-Security-Policy that loads
// nothing, and its hashes are those of the one <style> and one <script>
// as written on the page, whatever the report holds.
func TestHTMLCSP(t *testing.T) {
	for _, fx := range append(liveFixtures(t), hostileFixture(t)) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, fx.rep); err != nil {
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
