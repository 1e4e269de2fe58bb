package render

import (
	"strings"
	"testing"
	"unicode"
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
