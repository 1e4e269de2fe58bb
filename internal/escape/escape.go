// Package escape makes text that came from files or traffic (catalog
// overlays, site and session files, DNS names, SNI, HTTP Host, process
// names) safe for each place flowaudit writes it: a terminal line, a whole
// document, Markdown, JSON, a Zeek TSV field. There is one function per
// sink.
// Callers escape every string they did not write themselves, then add
// their own layout (colours, line breaks, table borders) around it.
//
// The characters escaped are the same for every sink: C0 controls, DEL,
// C1 controls, Unicode format characters (category Cf: bidi embeddings,
// overrides and isolates U+202A-U+202E and U+2066-U+2069, marks U+200E,
// U+200F and U+061C, zero-width characters, the BOM, soft hyphen), the
// line and paragraph separators U+2028 and U+2029, and bytes that are not
// UTF-8. They either drive a terminal (ESC starts a sequence that can
// clear the screen or write the clipboard; a raw 0x9b byte is CSI on some
// terminals), break a line that must stay one, or make text read
// differently from what it is. They are shown as Go-like escapes, visibly:
// \t \n \r, \xHH below U+0080 and for invalid bytes, \uHHHH and
// \UHHHHHHHH above. Backslash itself is kept (so printable ASCII comes back
// unchanged, and Windows paths stay readable): a literal "\x1b" in the
// input and an escaped ESC look the same, and neither drives anything.
//
// Every function returns its input, without allocating, when there is
// nothing to escape.
package escape

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// mode says what a sink keeps, folds or escapes differently.
type mode uint8

const (
	// keepLayout keeps '\n' and '\t' raw: a document's own lines.
	keepLayout mode = 1 << iota
	// foldLines turns "\r\n", "\r" and "\n" into one space: a Markdown
	// line or table cell.
	foldLines
	// hexBytes writes every byte of an escaped character as \xHH, and
	// escapes backslash too, as Zeek's ASCII logs do.
	hexBytes
	// jsonEscapes writes escaped characters as JSON \uHHHH escapes
	// (surrogate pairs above U+FFFF) and keeps '\r' with '\n' and '\t'.
	jsonEscapes
)

// Terminal returns s as text for one line of a terminal: every character
// listed in the package doc, newlines and tabs included, is shown as a
// visible escape, so a name can neither drive the terminal nor start a
// line of its own (a forged "27 requirements: 27 ok"). Printable text,
// ASCII or not, is returned unchanged. Terminal is idempotent.
func Terminal(s string) string { return visible(s, 0) }

// Text is Terminal for a whole document whose own layout uses newlines
// and tabs (the HTML page): '\n' and '\t' stay, everything else Terminal
// escapes is escaped. Use it on a rendered document, never on a field
// that must stay on one line.
func Text(s string) string { return visible(s, keepLayout) }

// Zeek returns s as one field of a Zeek ASCII log (TSV): every byte of an
// escaped character, and backslash, is written as \xHH, as Zeek escapes
// its separator and unprintable bytes, so a tab or newline in a name
// cannot split a row and a reader that unescapes \xHH gets the bytes back.
func Zeek(s string) string { return visible(s, hexBytes) }

// JSON returns a JSON text (as encoding/json writes it) with every
// character Terminal escapes, which encoding/json leaves raw inside
// strings (DEL, C1 controls, bidi and other format characters), written as
// a JSON \u escape. Nothing is lost: a decoder reads the same strings. The
// document's own whitespace stays. Use it on JSON text only.
func JSON(s string) string { return visible(s, keepLayout|jsonEscapes) }

// Markdown returns s as inline Markdown text, for a list item, a heading
// or a table cell: line breaks become spaces (a cell or item is one
// line), the characters Terminal escapes are shown the same way, and
// what Markdown would read as markup (emphasis, code, links, headings,
// table pipes, raw HTML such as <script> or <img onerror>) is escaped, so
// text from captures and catalogs stays text.
func Markdown(s string) string { return markdownEscaper.Replace(visible(s, foldLines)) }

// markdownEscaper escapes Markdown's markup characters, and HTML's, one by
// one. A strings.Replacer with single-byte keys returns its input without
// allocating when no key occurs.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "#", `\#`, "|", `\|`,
)

// Hidden reports whether r is a character the sinks escape: a C0 or C1
// control, DEL, a format character (Unicode Cf, bidi controls among them)
// or a line or paragraph separator.
func Hidden(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f:
		return true
	case r < 0x80:
		return false
	case r < 0xa0:
		return true
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// first returns the index of the first byte of s that m escapes or folds,
// or -1 when there is none. It is the fast path: a loop over bytes while
// they are ASCII, no allocation.
func first(s string, m mode) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if escapesASCII(c, m) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || Hidden(r) {
			return i
		}
		i += n
	}
	return -1
}

func escapesASCII(c byte, m mode) bool {
	switch {
	case c == '\\':
		return m&hexBytes != 0
	case c == '\n' || c == '\t':
		return m&keepLayout == 0
	case c == '\r' && m&jsonEscapes != 0:
		return false
	}
	return c < 0x20 || c == 0x7f
}

// visible escapes s for mode m.
func visible(s string, m mode) string {
	i := first(s, m)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case m&foldLines != 0 && (c == '\n' || c == '\r'):
				if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
					i++
				}
				b.WriteByte(' ')
			case escapesASCII(c, m):
				escapeRune(&b, rune(c), m)
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1 && m&jsonEscapes != 0:
			b.WriteString(`\ufffd`) // as encoding/json replaces it
		case r == utf8.RuneError && n == 1:
			hexByte(&b, c)
		case Hidden(r) && m&hexBytes != 0:
			for j := range n {
				hexByte(&b, s[i+j])
			}
		case Hidden(r):
			escapeRune(&b, r, m)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

// hex4 writes r (at most U+FFFF) as \uHHHH.
func hex4(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[r>>shift&0xf])
	}
}

func hexByte(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}

// escapeRune writes r as \t \n \r, \xHH, \uHHHH or \UHHHHHHHH (Zeek: \xHH
// only, r is ASCII there; JSON: \uHHHH only).
func escapeRune(b *strings.Builder, r rune, m mode) {
	if m&jsonEscapes != 0 {
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			hex4(b, r1)
			hex4(b, r2)
			return
		}
		hex4(b, r)
		return
	}
	if m&hexBytes == 0 {
		switch r {
		case '\t':
			b.WriteString(`\t`)
			return
		case '\n':
			b.WriteString(`\n`)
			return
		case '\r':
			b.WriteString(`\r`)
			return
		}
	}
	digits := 8
	switch {
	case r < utf8.RuneSelf:
		hexByte(b, byte(r))
		return
	case r <= 0xffff:
		b.WriteString(`\u`)
		digits = 4
	default:
		b.WriteString(`\U`)
	}
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[r>>shift&0xf])
	}
}
