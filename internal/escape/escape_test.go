package escape

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostile holds what the row 6 puts in session files: an OSC 52
// clipboard write, a screen clear, a forged line, a right-to-left
// override.
const (
	osc52  = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
	clear  = "\x1b[2J"
	forged = "x\n27 requirements: 27 ok"
	rlo    = "evil\u202egnp.exe"
)

func TestTerminal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mx1.example.test", "mx1.example.test"},
		{`C:\captures\gw1.pcap`, `C:\captures\gw1.pcap`},
		{"münchen.example — ok ✓", "münchen.example — ok ✓"},
		{osc52, `\x1b]52;c;ZWNobyBwd25lZA==\x07`},
		{clear, `\x1b[2J`},
		{forged, `x\n27 requirements: 27 ok`},
		{"a\r\nb", `a\r\nb`},
		{"tab\there", `tab\there`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1 csi \u009b2J nel \u0085", `c1 csi \u009b2J nel \u0085`},
		{"raw 8-bit csi \x9b2J", `raw 8-bit csi \x9b2J`},
		{"bad utf-8 \xff\xfe", `bad utf-8 \xff\xfe`},
		{rlo, `evil\u202egnp.exe`},
		{"\u202a\u202b\u202c\u202d\u202e", `\u202a\u202b\u202c\u202d\u202e`},
		{"\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"zero\u200bwidth\ufeffbom\u00adshy", `zero\u200bwidth\ufeffbom\u00adshy`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"tag \U000E0041", `tag \U000e0041`},
	}
	for _, tc := range tests {
		if got := Terminal(tc.in); got != tc.want {
			t.Errorf("Terminal(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Terminal(Terminal(tc.in)); got != Terminal(tc.in) {
			t.Errorf("Terminal is not idempotent on %q: %q", tc.in, got)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>a</p>\n\t<p>b</p>\n", "<p>a</p>\n\t<p>b</p>\n"},
		{"name " + osc52 + "\n", "name \\x1b]52;c;ZWNobyBwd25lZA==\\x07\n"},
		{"cr\r\n", "cr\\r\n"},
		{rlo, `evil\u202egnp.exe`},
	}
	for _, tc := range tests {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mx1.example.test", "mx1.example.test"},
		{"a|b", `a\|b`},
		{"`code` *em* _u_ [l](u) #h", "\\`code\\` \\*em\\* \\_u\\_ \\[l\\](u) \\#h"},
		{`<img src=x onerror="alert(1)">`, `&lt;img src=x onerror="alert(1)"&gt;`},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"a & b", "a &amp; b"},
		{"two\nlines\r\nand\rthree", "two lines and three"},
		{clear, `\\x1b\[2J`},
		{"tab\there", `tab\\there`},
		{rlo, `evil\\u202egnp.exe`},
		{`back\slash`, `back\\slash`},
	}
	for _, tc := range tests {
		if got := Markdown(tc.in); got != tc.want {
			t.Errorf("Markdown(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestZeek(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mx1.example.test", "mx1.example.test"},
		{"münchen.example", "münchen.example"},
		{"a\tb\nc", `a\x09b\x0ac`},
		{`back\slash`, `back\x5cslash`},
		{clear, `\x1b[2J`},
		{rlo, `evil\xe2\x80\xaegnp.exe`},
		{"c1 \u009b", `c1 \xc2\x9b`},
		{"bad \xff", `bad \xff`},
	}
	for _, tc := range tests {
		got := Zeek(tc.in)
		if got != tc.want {
			t.Errorf("Zeek(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, "\t\n\r") {
			t.Errorf("Zeek(%q) = %q breaks a TSV row", tc.in, got)
		}
	}
}

func TestJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{\n  \"a\": \"b\"\r\n}", "{\n  \"a\": \"b\"\r\n}"},
		{`"evil` + "\u202e" + `gnp"`, `"evil\u202egnp"`},
		{`"del` + "\x7f c1 \u009b" + `"`, `"del\u007f c1 \u009b"`},
		{`"tag` + "\U000E0041" + `"`, `"tag\udb40\udc41"`},
		{`"ok ✓ münchen"`, `"ok ✓ münchen"`},
	}
	for _, tc := range tests {
		if got := JSON(tc.in); got != tc.want {
			t.Errorf("JSON(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzJSON: escaping encoding/json's output loses nothing (the decoded
// string is the same) and leaves no raw control, bidi or format
// character.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{"", osc52, rlo, "\u009b\x7f", "\U000E0041\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.MarshalIndent(map[string]string{"k": s}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out := JSON(string(b))
		var want, got map[string]string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("JSON(%q) = %q: %v", b, out, err)
		}
		if got["k"] != want["k"] {
			t.Errorf("JSON changed the string: %q, want %q", got["k"], want["k"])
		}
		for _, r := range out {
			if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029) {
				t.Fatalf("JSON(%q) = %q keeps %U", b, out, r)
			}
		}
	})
}

// TestNoAllocs: text with nothing to escape (the common case: every name
// in a normal capture) costs a scan, never an allocation.
func TestNoAllocs(t *testing.T) {
	clean := []string{"mx1.example.test", "203.0.113.5 (update.example.test)", "münchen.example — ok ✓", ""}
	for name, f := range map[string]func(string) string{"Terminal": Terminal, "Text": Text, "Markdown": Markdown, "Zeek": Zeek, "JSON": JSON} {
		for _, s := range clean {
			var out string
			if n := testing.AllocsPerRun(100, func() { out = f(s) }); n != 0 {
				t.Errorf("%s(%q): %.0f allocations, want 0", name, s, n)
			}
			if out != s {
				t.Errorf("%s(%q) = %q, want it unchanged", name, s, out)
			}
		}
	}
}

func TestHidden(t *testing.T) {
	for _, r := range []rune{0, '\t', '\n', 0x1b, 0x7f, 0x80, 0x9b, 0x9f, 0xad, 0x061c, 0x200b, 0x200e, 0x202a, 0x202e,
		0x2028, 0x2029, 0x2066, 0x2069, 0xfeff, 0xe0001} {
		if !Hidden(r) {
			t.Errorf("Hidden(%U) = false", r)
		}
	}
	for _, r := range []rune{' ', 'a', '~', '\\', 0xa0, 0xe9, 0x2014, 0x2713, 0xfffd, 0x1f600} {
		if Hidden(r) {
			t.Errorf("Hidden(%U) = true", r)
		}
	}
}

// isBidi reports the bidi controls named by the issue, checked here by
// code point rather than through Hidden, which they test.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// FuzzTerminal: whatever the input, the output is valid UTF-8 on one
// line, without C0, C1 or DEL, bidi controls or separators; printable
// ASCII comes back unchanged; escaping twice changes nothing.
func FuzzTerminal(f *testing.F) {
	for _, s := range []string{"", "plain", osc52, clear, forged, rlo, "\u009b2J", "\xff\xfe", "a\r\nb\tc", "\U000E0041\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Terminal(s)
		if !utf8.ValidString(out) {
			t.Errorf("Terminal(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || isBidi(r) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r) {
				t.Fatalf("Terminal(%q) = %q keeps %U", s, out, r)
			}
		}
		printable := true
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				printable = false
			}
		}
		if printable && out != s {
			t.Errorf("Terminal(%q) = %q: printable ASCII changed", s, out)
		}
		if again := Terminal(out); again != out {
			t.Errorf("Terminal not idempotent: %q then %q", out, again)
		}
	})
}

// FuzzMarkdown: a Markdown cell stays one line, with no raw control
// character and no unescaped pipe or angle bracket.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"", "a|b", `a\|b`, "x\ny", "`code` *em* _u_ [l](u) <b>&amp;", clear, "\u009b2J", "tab\there"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Markdown(s)
		for _, r := range out {
			if unicode.IsControl(r) || isBidi(r) || unicode.Is(unicode.Cf, r) || r == '<' || r == '>' {
				t.Fatalf("Markdown(%q) = %q keeps %U", s, out, r)
			}
		}
		// Every pipe is preceded by an odd number of backslashes.
		for i := 0; i < len(out); i++ {
			if out[i] != '|' {
				continue
			}
			n := 0
			for j := i - 1; j >= 0 && out[j] == '\\'; j-- {
				n++
			}
			if n%2 == 0 {
				t.Fatalf("Markdown(%q) = %q: unescaped pipe at %d", s, out, i)
			}
		}
	})
}

// BenchmarkTerminal: the fast path (a clean name, ASCII or not) against a
// name that needs escaping.
func BenchmarkTerminal(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"clean-ascii", "203.0.113.22 (update.mailcleaner.test)"},
		{"clean-utf8", "mx.münchen.example — relay ✓"},
		{"hostile", "evil" + osc52 + clear + forged + rlo},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Terminal(bc.s)
			}
		})
	}
}
