package catalog

import (
	"github.com/flowaudit/flowaudit/internal/escape"

	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Character rules for catalog and site text. A catalog comes from files
// people pass around, and its strings reach a terminal, Markdown, HTML
// and nftables files: characters that can rewrite a screen (ESC, CR),
// reorder what a reader sees (bidi controls) or end a line or a comment
// (LF, U+2028) are refused when the file is read, and error messages
// show them escaped, never raw.

// bidiNames names the invisible bidi formatting characters refused in
// catalog text (the "Trojan Source" set: embeddings, overrides, isolates
// and marks).
var bidiNames = map[rune]string{
	0x061c: "arabic letter mark",
	0x200e: "left-to-right mark",
	0x200f: "right-to-left mark",
	0x202a: "left-to-right embedding",
	0x202b: "right-to-left embedding",
	0x202c: "pop directional formatting",
	0x202d: "left-to-right override",
	0x202e: "right-to-left override",
	0x2066: "left-to-right isolate",
	0x2067: "right-to-left isolate",
	0x2068: "first strong isolate",
	0x2069: "pop directional isolate",
	0x2028: "line separator",
	0x2029: "paragraph separator",
}

// forbidden reports whether r may appear in no catalog or site string:
// C0 and C1 controls, DEL, bidi controls, line and paragraph separators.
// Tabs and newlines are controls too: every value is one line of text.
func forbidden(r rune) bool {
	if r < 0x20 || r >= 0x7f && r <= 0x9f {
		return true
	}
	_, bidi := bidiNames[r]
	return bidi
}

// firstForbidden returns the first character of s that forbidden refuses
// (an invalid UTF-8 byte counts as one), its 1-based position in
// characters and a visible description; ok is false when s is clean.
func firstForbidden(s string) (pos int, desc string, ok bool) {
	for i, n := 0, 1; i < len(s); n++ {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return n, fmt.Sprintf(`invalid UTF-8 byte \x%02x`, s[i]), true
		}
		if forbidden(r) {
			return n, describe(r), true
		}
		i += size
	}
	return 0, "", false
}

// describe names a refused character without writing it: `\x1b` for
// ASCII controls, "U+202E (right-to-left override)" for the others.
func describe(r rune) string {
	if name, ok := bidiNames[r]; ok {
		return fmt.Sprintf("U+%04X (%s)", r, name)
	}
	if r < 0x80 {
		return fmt.Sprintf(`control character \x%02x`, r)
	}
	return fmt.Sprintf("control character U+%04X", r)
}

// Visible returns s as one line of text for an error message: every
// character forbidden refuses (and every invalid UTF-8 byte) is shown as a
// visible escape (`\x1b`, `\n`, `\u202e`), the terminal's rule
// (internal/escape.Terminal), so an error says exactly what it found and
// cannot drive the terminal it is printed on.
func Visible(s string) string { return escape.Terminal(s) }

// nftCommentPunct is the punctuation a string may hold when it is written
// into an nftables comment (after "#" or inside comment "..."): nothing
// that ends a quoted string ("), starts a comment (#), separates
// statements (;), opens or closes a block ({}), expands a variable ($) or
// escapes (\).
const nftCommentPunct = ".,:/()-_+@&'!?%*="

// nftCommentRune reports whether r may go into an nftables comment:
// letters and digits (any script), space, and nftCommentPunct.
func nftCommentRune(r rune) bool {
	return r == ' ' || unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(nftCommentPunct, r)
}

// nftCommentSafe reports whether all of s may go into an nftables
// comment.
func nftCommentSafe(s string) bool {
	if _, _, bad := firstForbidden(s); bad {
		return false
	}
	for _, r := range s {
		if !nftCommentRune(r) {
			return false
		}
	}
	return true
}
