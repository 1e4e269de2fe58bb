package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// forgedSummary is the line a hostile session file tries to print on a
// line of its own, to pass for flowaudit's verdict.
const forgedSummary = "27 requirements: 27 ok"

// hostile is text from a hostile file or packet, tagged with where it was
// put: an OSC 52 clipboard write, a screen clear, a forged summary line, a
// right-to-left override, a raw 8-bit CSI byte, a line separator, and
// Markdown and HTML markup.
func hostile(tag string) string {
	return tag + "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\n" + forgedSummary + "\r\n\u202e" + tag + "\x9b2J\u2028<img src=x onerror=alert(1)>|*"
}

// hostileFixture is the synthetic report with hostile text in every field
// that comes from a file or the traffic: session fields (node, hosts_how,
// stats.files, stats.warnings, iface), names, process names, and catalog
// text (title, service, vendor quote, notes).
func hostileFixture(t *testing.T) fixture {
	t.Helper()
	rep := syntheticReport(t)
	rep.Hosts.How = hostile("hostshow")
	rep.Capture.Files = []string{hostile("file")}
	rep.Capture.Iface = hostile("iface")
	rep.Capture.Nodes = []string{hostile("node")}
	rep.Capture.Warnings = append(rep.Capture.Warnings, hostile("capture-warning"))
	rep.Warnings = append(rep.Warnings, hostile("warning"))
	rep.Capture.Loss = append(rep.Capture.Loss, hostile("loss"))
	rep.Tool = hostile("tool")
	rep.Products[0].Title = hostile("title")
	for i := range rep.Requirements {
		r := &rep.Requirements[i]
		r.Service = hostile("service")
		r.Source.Text = hostile("source")
		r.Nodes = []string{hostile("req-node")}
		r.Notes = append(r.Notes, hostile("note"))
		for j := range r.Peers {
			r.Peers[j].Names = []string{hostile("name")}
		}
		for j := range r.Timeline {
			r.Timeline[j].Node = hostile("attempt-node")
			r.Timeline[j].Process = &flow.Process{PID: 4121, Comm: hostile("comm")}
		}
		r.Processes = []analyze.ProcessSeen{{Comm: hostile("comm"), PIDs: []uint32{4121}, Flows: 1}}
	}
	for i := range rep.Unexpected {
		u := &rep.Unexpected[i]
		u.Nodes = []string{hostile("unexpected-node")}
		u.Processes = []analyze.ProcessSeen{{Comm: hostile("unexpected-comm"), PIDs: []uint32{31337}, Flows: 1}}
		for j := range u.Peers {
			u.Peers[j].Names = []string{hostile("unexpected-name")}
		}
	}
	return fixture{name: "hostile", rep: rep}
}

// rawHidden returns the first character of s that must never reach a
// reader raw (allowed are '\n' and, for documents, '\t'), or "".
func rawHidden(s string, allowTab bool) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Sprintf("invalid byte %#x at %d", s[i], i)
		case r == '\n', r == '\t' && allowTab:
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == 0x2028, r == 0x2029:
			return fmt.Sprintf("%U at %d", r, i)
		}
	}
	return ""
}

// TestHostileText (issue 10, row 6): whatever a session file, a catalog
// overlay or the traffic puts in the report, no format writes a raw
// control, bidi or invisible character; the forged summary never starts
// a line; Markdown keeps every table row's cells and no markup; HTML
// keeps the markup as text.
func TestHostileText(t *testing.T) {
	fx := hostileFixture(t)
	for _, format := range []string{"table", "color", "narrow", "markdown", "html"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			var err error
			switch format {
			case "table", "color":
				err = Table(&b, fx.rep, Options{Color: format == "color", All: true})
			case "narrow": // blocks of lines, wrapped
				err = Table(&b, fx.rep, Options{Color: true, Width: 80})
			case "markdown":
				err = Markdown(&b, fx.rep, Options{})
			case "html":
				err = HTML(&b, fx.rep, Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if format == "color" || format == "narrow" {
				out = ansi.ReplaceAllString(out, "") // our own colour codes
			}
			if bad := rawHidden(out, format == "html"); bad != "" {
				t.Errorf("raw %s in the output", bad)
			}
			// HTML keeps a name's line breaks in its source (a browser shows
			// them as spaces, or inside the vendor quote's box): no line to
			// forge there.
			if format != "html" {
				checkNoForgedLine(t, out)
			}
			for _, tag := range []string{"hostshow", "file", "node", "warning", "name", "comm", "unexpected-comm", "title", "service"} {
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
				checkHTMLInert(t, out)
			}
		})
	}
}

// checkNoForgedLine fails when a line of out starts with the forged
// summary: nothing before it but table borders, list markers or quote
// marks.
func checkNoForgedLine(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, forgedSummary); i >= 0 && strings.Trim(line[:i], " |│>*-#.0123456789") == "" {
			t.Errorf("the forged summary starts a line: %q", line)
		}
	}
}

// checkMarkdownCells: every row of a table has as many cells as its
// header.
func checkMarkdownCells(t *testing.T, md string) {
	t.Helper()
	want := -1
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			want = -1
			continue
		}
		n := len(mdUnescapedPipe.FindAllString(line, -1))
		if want < 0 {
			want = n
		} else if n != want {
			t.Errorf("row with %d separators, header has %d: %q", n, want, line)
		}
	}
}

// checkHTMLInert: the hostile markup stays text: one script, no img, no
// event handler.
func checkHTMLInert(t *testing.T, page string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	scripts := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "img" {
			t.Error("an <img> element from report text")
		}
		if n.Data == "script" {
			scripts++
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s %s>: an event handler from report text", n.Data, a.Key)
			}
		}
	}
	if scripts != 1 {
		t.Errorf("%d scripts, want 1", scripts)
	}
}
