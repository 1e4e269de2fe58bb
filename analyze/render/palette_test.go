package render

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// luminance is a colour's WCAG 2 relative luminance.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q: want #rrggbb", hex)
	}
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

// contrast is the WCAG 2 contrast ratio of two colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// TestPaletteContrast (issue 12): every pair of colours the page shows
// text in reaches WCAG AA's 4.5:1, and every timeline mark 3:1 on its
// lane; the check can fail (the old partial orange on white does not).
func TestPaletteContrast(t *testing.T) {
	hex := map[string]string{}
	for _, c := range palette {
		hex[c.name] = c.hex
	}
	check := func(pairs [][2]string, least float64) {
		for _, p := range pairs {
			fg, bg := hex[p[0]], hex[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("pair %v names a colour not in the palette", p)
				continue
			}
			if r := contrast(t, fg, bg); r < least {
				t.Errorf("%s (%s) on %s (%s): contrast %.2f:1, want at least %.1f:1", p[0], fg, p[1], bg, r, least)
			}
		}
	}
	check(textPairs(), 4.5)
	check(markPairs(), 3)
	if r := contrast(t, "#e08a00", "#ffffff"); r >= 4.5 {
		t.Errorf("the check passes the old partial orange (%.2f:1)", r)
	}
	for _, s := range sections {
		if _, ok := hex[string(s.status)]; !ok {
			t.Errorf("status %s has no colour in the palette", s.status)
		}
	}
}

// cssColor finds colour literals: hex, rgb()/hsl() and the like.
var cssColor = regexp.MustCompile(`#[0-9a-fA-F]{3,8}\b|\b(rgb|rgba|hsl|hsla)\(`)

// TestCSSColorsFromPalette: html.css writes no colour of its own, so
// TestPaletteContrast sees every colour text is shown in. Shadows, which
// carry no text, may use a translucent black.
func TestCSSColorsFromPalette(t *testing.T) {
	hex := map[string]string{}
	for _, c := range palette {
		hex[c.name] = c.hex
	}
	for i, line := range strings.Split(htmlCSS, "\n") {
		for _, decl := range strings.Split(line, ";") {
			if strings.Contains(decl, "box-shadow") {
				continue
			}
			if m := cssColor.FindString(decl); m != "" {
				t.Errorf("html.css line %d: colour %q not from the palette: %s", i+1, m, strings.TrimSpace(decl))
			}
		}
	}
	for _, c := range palette {
		if !strings.Contains(string(htmlStyle), "--"+c.name+": "+c.hex+";") {
			t.Errorf("the page's style lacks --%s", c.name)
		}
	}
	for _, m := range regexp.MustCompile(`var\(--([a-z-]+)\)`).FindAllStringSubmatch(htmlCSS, -1) {
		if _, ok := hex[m[1]]; !ok && m[1] != "c" { // --c: the status colour of the element
			t.Errorf("html.css uses --%s, which the palette does not declare", m[1])
		}
	}
	for _, name := range []string{"on-color", "card", "text", "muted"} {
		if !strings.Contains(htmlCSS, "var(--"+name+")") {
			t.Errorf("html.css does not use --%s: are the tested pairs the ones it uses?", name)
		}
	}
}
