package render

import (
	"fmt"
	"strings"
)

// paletteColor is one colour of the HTML page, written into its style
// sheet as the custom property --name: html.css names colours only
// through these (TestPaletteContrast checks both), so the contrast of
// every pair of them the page puts text in can be checked here.
type paletteColor struct{ name, hex string }

var palette = []paletteColor{
	// Statuses: badges (white text on them), headings and reasons (them
	// on white).
	{"blocked", "#c62828"}, {"partial", "#a84b00"}, {"unexpected", "#ad1457"}, {"inconclusive", "#00695c"},
	{"never-seen", "#5e35b1"}, {"ok", "#2e7d32"}, {"not-applicable", "#5f6670"},
	// Outcomes: timeline marks and outcome bars (each has a shape too).
	{"established", "#2e7d32"}, {"rejected", "#d84315"}, {"unreachable", "#c62828"}, {"unanswered", "#37474f"},
	{"unknown", "#7a838e"}, {"pending", "#6b7480"}, {"not-sent", "#6a1b9a"},
	// Text and surfaces.
	{"text", "#1d2430"}, {"muted", "#5b6673"}, {"on-color", "#ffffff"}, {"page", "#f5f6f8"}, {"card", "#ffffff"},
	{"line", "#dde1e6"}, {"head", "#eef0f3"}, {"lane", "#f7f8fa"}, {"gap", "#e3e6ea"},
	{"warn-bg", "#fff6e5"}, {"loss-bg", "#fdecea"}, {"quote-bg", "#f7f8fa"},
}

// statusColors are the palette names of the statuses (and unexpected).
var statusColors = []string{"blocked", "partial", "unexpected", "inconclusive", "never-seen", "ok", "not-applicable"}

// textPairs are the foreground and background colours the page shows
// text in: WCAG AA asks 4.5:1 of each.
func textPairs() [][2]string {
	pairs := [][2]string{
		{"text", "card"}, {"text", "page"}, {"text", "head"}, {"text", "warn-bg"}, {"text", "loss-bg"}, {"text", "quote-bg"},
		{"muted", "card"}, {"muted", "page"}, {"muted", "head"}, {"muted", "lane"}, {"muted", "quote-bg"},
	}
	for _, s := range statusColors {
		// Badges and the timeline's status labels; counts, headings and
		// reasons on cards.
		pairs = append(pairs, [2]string{"on-color", s}, [2]string{s, "card"}, [2]string{s, "lane"})
	}
	return pairs
}

// markPairs are the timeline's marks on its lanes: graphics, for which
// WCAG AA asks 3:1 (non-text contrast).
func markPairs() [][2]string {
	var pairs [][2]string
	for _, o := range []string{"established", "rejected", "unreachable", "unanswered", "unknown", "pending", "unexpected", "not-sent"} {
		pairs = append(pairs, [2]string{o, "lane"}, [2]string{o, "card"})
	}
	return pairs
}

// paletteCSS is the :root rule declaring the palette.
func paletteCSS() string {
	var b strings.Builder
	b.WriteString(":root {")
	for i, c := range palette {
		if i%6 == 0 {
			b.WriteString("\n ")
		}
		fmt.Fprintf(&b, " --%s: %s;", c.name, c.hex)
	}
	b.WriteString("\n}\n")
	return b.String()
}
