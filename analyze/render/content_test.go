package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowaudit/flowaudit/analyze"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTableColor: colour only when asked, and colour codes do not break
// the table's alignment.
func TestTableColor(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var plain, color bytes.Buffer
			if err := Table(&plain, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(plain.Bytes(), []byte("\x1b")) {
				t.Error("escape codes without Options.Color")
			}
			if err := Table(&color, fx.rep, Options{Color: true}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(color.Bytes(), []byte(ansiBold)) {
				t.Error("no colour with Options.Color")
			}
			if got := ansi.ReplaceAllString(color.String(), ""); got != plain.String() {
				t.Errorf("coloured table differs from the plain one beyond escape codes:\n%s", got)
			}
		})
	}
	for _, fx := range goldenFixtures(t) {
		if fx.name == "synthetic" {
			var b bytes.Buffer
			if err := Table(&b, fx.rep, Options{Color: true}); err != nil {
				t.Fatal(err)
			}
			golden(t, "synthetic.color.txt", b.Bytes())
		}
	}
}

// TestTableContent checks the table's order and completeness on every
// capture: the summary first, statuses worst first, every requirement and
// unexpected group listed, rows of one table equally wide.
func TestTableContent(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Table(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if first, _, _ := strings.Cut(out, "\n"); first != SummaryLine(fx.rep) {
				t.Errorf("first line %q, want the summary %q", first, SummaryLine(fx.rep))
			}
			last := -1
			for _, st := range analyze.Statuses {
				n := fx.rep.Summary.Count(st)
				head := strings.ToUpper(statusTitle[st]) + " ("
				i := strings.Index(out, "\n"+head)
				if n == 0 {
					if i >= 0 {
						t.Errorf("section %s without requirements", st)
					}
					continue
				}
				if i < last {
					t.Errorf("section %s out of order", st)
				}
				last = i
			}
			for _, r := range fx.rep.Requirements {
				if !strings.Contains(out, "│ "+shortID(fx.rep, r.ID)+" ") {
					t.Errorf("requirement %s not in the table", r.ID)
				}
			}
			for _, u := range fx.rep.Unexpected {
				if !strings.Contains(out, unexpectedPort(u)) {
					t.Errorf("unexpected %s not in the table", unexpectedPort(u))
				}
			}
			if fx.rep.Capture.LossSeen != strings.Contains(out, "never-seen verdicts may be wrong") {
				t.Errorf("loss seen %v, but the warning is %v", fx.rep.Capture.LossSeen, !fx.rep.Capture.LossSeen)
			}
			width := 0
			for _, line := range strings.Split(out, "\n") {
				if !strings.HasPrefix(line, "│") && !strings.HasPrefix(line, "┌") && !strings.HasPrefix(line, "├") && !strings.HasPrefix(line, "└") {
					width = 0
					continue
				}
				w := utf8.RuneCountInString(line)
				if width != 0 && w != width {
					t.Errorf("ragged table row (%d runes, table is %d): %q", w, width, line)
				}
				width = w
			}
		})
	}
}

// mdUnescapedPipe finds cell separators: a pipe not escaped by a backslash.
var mdUnescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

// TestMarkdownContent: one action per blocked or partial requirement, every
// requirement in a table, and every table row with as many cells as its
// header (text with pipes must not add columns).
func TestMarkdownContent(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Markdown(&b, fx.rep); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			_, actions, _ := strings.Cut(out, "## Needs a firewall change\n")
			actions, _, _ = strings.Cut(actions, "\n## ")
			n := 0
			for _, line := range strings.Split(actions, "\n") {
				if regexp.MustCompile(`^\d+\. (Allow|Fix the gateway's service for) `).MatchString(line) {
					n++
				}
			}
			if want := fx.rep.Summary.Blocked + fx.rep.Summary.Partial; n != want {
				t.Errorf("%d actions, want %d (blocked + partial)", n, want)
			}
			for _, r := range fx.rep.Requirements {
				if !strings.Contains(out, "| "+mdText(r.ID)+" |") {
					t.Errorf("requirement %s not in a table", r.ID)
				}
			}
			cols := 0
			for _, line := range strings.Split(out, "\n") {
				if !strings.HasPrefix(line, "|") {
					cols = 0
					continue
				}
				c := len(mdUnescapedPipe.FindAllString(line, -1))
				if cols != 0 && c != cols {
					t.Errorf("row with %d separators, header has %d: %q", c, cols, line)
				}
				cols = c
			}
		})
	}
}

// TestDeterministic: rendering twice gives the same bytes, and a report
// read back from its JSON renders the same as the original (the golden
// fixtures are stored as JSON).
func TestDeterministic(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			j, err := json.Marshal(fx.rep)
			if err != nil {
				t.Fatal(err)
			}
			var back analyze.Report
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name   string
				render func(*bytes.Buffer, *analyze.Report) error
			}{
				{"table", func(b *bytes.Buffer, r *analyze.Report) error { return Table(b, r, Options{Color: true}) }},
				{"markdown", func(b *bytes.Buffer, r *analyze.Report) error { return Markdown(b, r) }},
				{"html", func(b *bytes.Buffer, r *analyze.Report) error { return HTML(b, r) }},
			} {
				var a, b, c bytes.Buffer
				if err := f.render(&a, fx.rep); err != nil {
					t.Fatal(err)
				}
				_ = f.render(&b, fx.rep)
				_ = f.render(&c, &back)
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Errorf("%s: two renderings differ", f.name)
				}
				if !bytes.Equal(a.Bytes(), c.Bytes()) {
					t.Errorf("%s: the report read back from JSON renders differently", f.name)
				}
			}
		})
	}
}

// failingWriter fails after n bytes, to check that write errors surface.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

type writeError struct{}

func (writeError) Error() string { return "disk full" }

var errWrite = writeError{}

func TestWriteErrors(t *testing.T) {
	rep := liveFixtures(t)[0].rep
	for _, f := range []struct {
		name   string
		render func(*failingWriter) error
	}{
		{"table", func(w *failingWriter) error { return Table(w, rep, Options{}) }},
		{"markdown", func(w *failingWriter) error { return Markdown(w, rep) }},
		{"html", func(w *failingWriter) error { return HTML(w, rep) }},
	} {
		for _, n := range []int{0, 100, 5000} {
			if err := f.render(&failingWriter{n: n}); err == nil {
				t.Errorf("%s: write failing after %d bytes: no error", f.name, n)
			}
		}
	}
}

// TestTableSanitizes: names learned from the traffic cannot send escape
// sequences to the terminal, coloured or not.
func TestTableSanitizes(t *testing.T) {
	rep := goldenFixtures(t)[1].rep
	var req *analyze.Requirement
	for i := range rep.Requirements {
		if len(rep.Requirements[i].Peers) > 0 {
			req = &rep.Requirements[i]
			break
		}
	}
	req.Peers[0].Names = []string{"evil\x1b[2J\x07.example\u009b31m"}
	rep.Warnings = append(rep.Warnings, "bad\x1b]0;title\x07")
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := Table(&b, rep, Options{Color: color}); err != nil {
			t.Fatal(err)
		}
		out := ansi.ReplaceAllString(b.String(), "")
		if strings.ContainsAny(out, "\x1b\x07\u009b") {
			t.Errorf("color=%v: control characters reached the output", color)
		}
		if !strings.Contains(out, `evil\x1b[2J\x07.example\u009b31m`) {
			t.Errorf("color=%v: escaped name missing", color)
		}
	}
}

// TestManyPeers: long peer lists are cut in the table and Markdown with
// the right "+N more" (counting peers the report itself left out), and
// folded, not dropped, in the HTML.
func TestManyPeers(t *testing.T) {
	rep := goldenFixtures(t)[1].rep
	var req *analyze.Requirement
	for i := range rep.Requirements {
		if rep.Requirements[i].Status == analyze.Partial {
			req = &rep.Requirements[i]
		}
	}
	if req == nil {
		t.Fatal("synthetic report has no partial requirement")
	}
	base := req.Peers[0]
	req.Peers = nil
	for i := range 14 {
		p := base
		p.Addr = netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i)})
		req.Peers = append(req.Peers, p)
	}
	req.PeersOmitted = 7
	want := fmt.Sprintf("+%d more", 14-maxPeers+7)

	var tb, md, hb bytes.Buffer
	if err := Table(&tb, rep, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.String(), want) {
		t.Errorf("table lacks %q", want)
	}
	if err := Markdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), want) || !strings.Contains(md.String(), fmt.Sprintf("; and %d more", 14-maxActionPeers+7)) {
		t.Errorf("markdown lacks the peer counts")
	}
	if err := HTML(&hb, rep); err != nil {
		t.Fatal(err)
	}
	page := hb.String()
	for _, p := range req.Peers {
		if !strings.Contains(page, "<code>"+p.Addr.String()+"</code>") {
			t.Errorf("html lacks peer %s", p.Addr)
		}
	}
	if !strings.Contains(page, fmt.Sprintf("<summary>%d more peers</summary>", 14-htmlPeersShown)) ||
		!strings.Contains(page, "7 more peers not listed in the report") {
		t.Error("html does not fold the tail or count the omitted peers")
	}
}
