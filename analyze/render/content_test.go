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

// TestTableColor: colour only when asked, and colour codes change
// nothing else (the tables' alignment, the blocks', the wrapping).
func TestTableColor(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		for _, width := range []int{0, 80, 120} {
			t.Run(fmt.Sprintf("%s/%d", fx.name, width), func(t *testing.T) {
				var plain, color bytes.Buffer
				if err := Table(&plain, fx.rep, Options{Width: width}); err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(plain.Bytes(), []byte("\x1b")) {
					t.Error("escape codes without Options.Color")
				}
				if err := Table(&color, fx.rep, Options{Color: true, Width: width}); err != nil {
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
// capture, at every width: the summary first, the sections in order of
// urgency, every requirement and unexpected group listed (not-applicable
// ones folded to one line unless All), rows of one table equally wide,
// and no line wider than the width (no word in these reports is).
func TestTableContent(t *testing.T) {
	for _, fx := range liveFixtures(t) {
		for _, opts := range []Options{{}, {All: true}, {Width: 80}, {Width: 120, All: true}, {Width: 200}} {
			t.Run(fmt.Sprintf("%s/width=%d/all=%v", fx.name, opts.Width, opts.All), func(t *testing.T) {
				var b bytes.Buffer
				if err := Table(&b, fx.rep, opts); err != nil {
					t.Fatal(err)
				}
				checkTable(t, fx.rep, b.String(), opts)
			})
		}
	}
}

func checkTable(t *testing.T, rep *analyze.Report, out string, opts Options) {
	t.Helper()
	if first, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(SummaryLine(rep), first) {
		t.Errorf("first line %q, want the summary %q", first, SummaryLine(rep))
	}
	last := -1
	for _, s := range sections {
		n := rep.Summary.Count(s.status)
		head := "\n" + strings.ToUpper(s.title) + " ("
		if s.status == analyze.NotApplicable && !opts.All {
			head = fmt.Sprintf("\n%d not applicable: ", n)
		}
		i := strings.Index(out, head)
		switch {
		case n == 0 && i >= 0:
			t.Errorf("section %s without requirements", s.status)
		case n > 0 && i < last:
			t.Errorf("section %s missing or out of order", s.status)
		case n > 0:
			last = i
		}
	}
	checkListed(t, rep, out, opts)
	if rep.Capture.LossSeen != strings.Contains(strings.Join(strings.Fields(out), " "), "never-seen verdicts may be wrong") {
		t.Errorf("loss seen %v, but the warning is %v", rep.Capture.LossSeen, !rep.Capture.LossSeen)
	}
	checkWidths(t, out, opts.Width)
}

// checkListed: every requirement (the not-applicable ones only with
// All) is a table row or a block, and every unexpected group is there.
func checkListed(t *testing.T, rep *analyze.Report, out string, opts Options) {
	t.Helper()
	list := opts.Width > 0 && !strings.Contains(out, "┌")
	for _, r := range rep.Requirements {
		id := shortID(rep, r.ID)
		row, block := "│ "+id+" ", "\n"+strings.ToUpper(statusTitle(r.Status))+" "+id+" "
		listed := strings.Contains(out, row) || strings.Contains(out, block)
		switch {
		case r.Status == analyze.NotApplicable && !opts.All:
			if listed {
				t.Errorf("not-applicable %s listed without All", r.ID)
			}
		case list && !strings.Contains(out, block), !list && !strings.Contains(out, row):
			t.Errorf("requirement %s not in the report", r.ID)
		}
	}
	for _, u := range rep.Unexpected {
		if !strings.Contains(out, unexpectedPort(u)) {
			t.Errorf("unexpected %s not in the table", unexpectedPort(u))
		}
	}
}

// checkWidths: no line wider than width (when there is one), and every
// row of a table as wide as the table.
func checkWidths(t *testing.T, out string, width int) {
	t.Helper()
	table := 0
	for _, line := range strings.Split(out, "\n") {
		w := utf8.RuneCountInString(line)
		if width > 0 && w > width {
			t.Errorf("line of %d runes in %d columns: %q", w, width, line)
		}
		if !strings.HasPrefix(line, "│") && !strings.HasPrefix(line, "┌") && !strings.HasPrefix(line, "├") && !strings.HasPrefix(line, "└") {
			table = 0
			continue
		}
		if table != 0 && w != table {
			t.Errorf("ragged table row (%d runes, table is %d): %q", w, table, line)
		}
		table = w
	}
}

// TestTableWidth: below ListWidth every requirement is a block of lines,
// from ListWidth tables whose text columns wrap, and without a width the
// tables are as wide as their cells.
func TestTableWidth(t *testing.T) {
	rep := goldenFixtures(t)[0].rep
	for _, tc := range []struct {
		width       int
		table, wrap bool
	}{{60, false, false}, {ListWidth - 1, false, false}, {120, true, true}, {200, true, false}, {0, true, false}} {
		var b bytes.Buffer
		if err := Table(&b, rep, Options{Width: tc.width}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if got := strings.Contains(out, "┌"); got != tc.table {
			t.Errorf("width %d: tables %v, want %v", tc.width, got, tc.table)
		}
		if !tc.table && !strings.Contains(out, "\nBLOCKED out-tcp-2703-razor  out tcp/2703  Razor\n  reason: rejected by RST (1)\n") {
			t.Errorf("width %d: no block for out-tcp-2703-razor:\n%s", tc.width, out)
		}
		// "refused by the gateway itself: service not listening (1)" on
		// one line or over several.
		if got := !strings.Contains(out, "refused by the gateway itself: service not listening (1)"); tc.table && got != tc.wrap {
			t.Errorf("width %d: reason wrapped %v, want %v", tc.width, got, tc.wrap)
		}
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
			if err := Markdown(&b, fx.rep, Options{}); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			_, actions, _ := strings.Cut(out, "## Needs a firewall change\n")
			actions, _, _ = strings.Cut(actions, "\n## ")
			n := 0
			for _, line := range strings.Split(actions, "\n") {
				if regexp.MustCompile(`^\d+\. (Allow|Fix the gateway's service for|Change the gateway's own firewall rules to allow|Add a route on the gateway for|Fix the gateway's next hop \(ARP / neighbour discovery\) for|Fix the socket filter on the gateway for) `).MatchString(line) {
					n++
				}
			}
			if want := fx.rep.Summary.Blocked + fx.rep.Summary.Partial; n != want {
				t.Errorf("%d actions, want %d (blocked + partial)", n, want)
			}
			for _, r := range fx.rep.Requirements {
				if in := strings.Contains(out, "| "+mdText(r.ID)+" |"); in != (r.Status != analyze.NotApplicable) {
					t.Errorf("requirement %s (%s) in a table: %v", r.ID, r.Status, in)
				}
			}
			if n := fx.rep.Summary.NotApplicable; n > 0 && !strings.Contains(out, mdText(naFoldText(fx.rep))+".\n") {
				t.Errorf("no line for the %d not-applicable requirements", n)
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
				{"markdown", func(b *bytes.Buffer, r *analyze.Report) error { return Markdown(b, r, Options{}) }},
				{"html", func(b *bytes.Buffer, r *analyze.Report) error { return HTML(b, r, Options{}) }},
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
		{"markdown", func(w *failingWriter) error { return Markdown(w, rep, Options{}) }},
		{"html", func(w *failingWriter) error { return HTML(w, rep, Options{}) }},
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
	if err := Markdown(&md, rep, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), want) || !strings.Contains(md.String(), fmt.Sprintf("; and %d more", 14-maxActionPeers+7)) {
		t.Errorf("markdown lacks the peer counts")
	}
	if err := HTML(&hb, rep, Options{}); err != nil {
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
