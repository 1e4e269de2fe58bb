package render

import (
	"strings"
	"testing"
	"unicode"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/flowaudit/flowaudit/internal/escape"
)

// FuzzEscapes: whatever a name or vendor text holds, a Markdown cell stays
// one cell on one line without control characters (package escape fuzzes
// the terminal).
func FuzzEscapes(f *testing.F) {
	for _, s := range []string{"", "a|b", `a\|b`, "x\ny", "`code` *em* _u_ [l](u) <b>&amp;", "\x1b[31mred\x1b[0m", "\u009b2J", "tab\there"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := mdCell(s)
		if strings.ContainsAny(c, "\n\r") {
			t.Errorf("mdCell(%q) = %q spans lines", s, c)
		}
		if n := len(mdUnescapedPipe.FindAllString("| "+c+" |", -1)); n != 2 {
			t.Errorf("mdCell(%q) = %q: %d cell separators, want the 2 around it", s, c, n)
		}
		for _, r := range c {
			if unicode.IsControl(r) {
				t.Errorf("mdCell(%q) keeps control %U", s, r)
			}
		}
	})
}

// FuzzWrapText: wrapping keeps every word, in order, and makes no line
// wider than the limit unless it is one word longer than that.
func FuzzWrapText(f *testing.F) {
	for _, s := range []string{"", "a", "refused by the gateway itself: service not listening (1)", "2001:db8:b::80 (updates.example-vendor.test): 1 unreachable", "  spaced   out  ", "日本語 テキスト の 折り返し"} {
		f.Add(s, 12)
	}
	f.Fuzz(func(t *testing.T, s string, lim int) {
		s = escape.Terminal(s) // what the table wraps: no controls
		lines := wrapText(s, lim)
		if got, want := strings.Fields(strings.Join(lines, " ")), strings.Fields(s); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("wrapText(%q, %d) = %q: words %q, want %q", s, lim, lines, got, want)
		}
		for _, l := range lines {
			if lim > 0 && twwidth.Width(l) > lim && len(strings.Fields(l)) > 1 {
				t.Errorf("wrapText(%q, %d): line %q is %d wide", s, lim, l, twwidth.Width(l))
			}
		}
	})
}
