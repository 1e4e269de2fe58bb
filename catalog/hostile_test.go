package catalog

import (
	"go.yaml.in/yaml/v3"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// badChars are the characters no catalog or site string may hold, as a
// YAML double-quoted escape, with how errors must show them.
var badChars = []struct{ esc, shown string }{
	{`\e`, `\x1b`}, {`\n`, `\x0a`}, {`\r`, `\x0d`}, {`\t`, `\x09`}, {`\0`, `\x00`}, {`\x7f`, `\x7f`},
	{`\x85`, "U+0085"}, {`\x9b`, "U+009B"}, {`\u202e`, "U+202E (right-to-left override)"},
	{`\u202a`, "U+202A"}, {`\u2066`, "U+2066 (left-to-right isolate)"}, {`\u2069`, "U+2069"},
	{`\u200f`, "U+200F (right-to-left mark)"}, {`\u061c`, "U+061C"},
	{`\L`, "U+2028 (line separator)"}, {`\P`, "U+2029 (paragraph separator)"},
}

// catalogSpots are the places of good where a string can go, as a
// replacement of one line, with the line and field an error names. X
// stands for the hostile text.
var catalogSpots = []struct {
	name, old, new string
	line           int
	field          string
}{
	{"product", "product: demo", `product: "demo X"`, 1, "product"},
	{"title", "document: demo.txt", "document: demo.txt\ntitle: \"Demo X\"", 3, "title"},
	{"document", "document: demo.txt", `document: "demo X.txt"`, 2, "document"},
	{"feature name", "{name: cluster,", `{name: "clusterX",`, 4, "features[0].name"},
	{"feature description", "description: several nodes}", `description: "several X nodes"}`, 4, "features[0].description"},
	{"row name", "  - name: smtp", `  - name: "smtpX"`, 6, "rows[0].name"},
	{"direction", "direction: in", `direction: "inX"`, 7, "rows[0].direction"},
	{"protocol", "protocol: tcp", `protocol: ["tcpX"]`, 8, "rows[0].protocol[0]"},
	{"ports", "ports: [25]", `ports: ["25X"]`, 9, "rows[0].ports[0]"},
	{"peer", "peers: [any]", `peers: [any, "host:mx.example.orgX"]`, 10, "rows[0].peers[1]"},
	{"service", "peers: [any]", "peers: [any]\n    service: \"SMTP X\"", 11, "rows[0].service"},
	{"purpose", "peers: [any]", "peers: [any]\n    purpose: \"mail X in\"", 11, "rows[0].purpose"},
	{"condition", "peers: [any]", "peers: [any]\n    condition: \"clusterX\"", 11, "rows[0].condition"},
	{"note", "peers: [any]", "peers: [any]\n    notes: [fine, \"a X note\"]", 11, "rows[0].notes[1]"},
	{"oneway", "peers: [any]", "peers: [any]\n    oneway: \"trueX\"", 11, "rows[0].oneway"},
	{"source text", `{text: "25 | TCP | In | SMTP"}`, `{text: "25 | TCP X"}`, 11, "rows[0].source.text"},
	{"source document", `{text: "25 | TCP | In | SMTP"}`, `{document: "dX.txt", text: t}`, 11, "rows[0].source.document"},
	{"top key", "document: demo.txt", "document: demo.txt\n\"colourX\": red", 3, "colourX"},
	{"row key", "direction: in", "direction: in\n    \"protoX\": tcp", 8, "rows[0].protoX"},
	{"source key", `{text: "25 | TCP | In | SMTP"}`, `{text: t, "urlX": u}`, 11, "rows[0].source.urlX"},
}

// TestParseRefusesControlCharacters: row 2 and row 9 of issue 10. Every
// string of a catalog file, keys included, refuses each control, bidi
// and line-break character with one "file:line: field: ..." line that
// shows it escaped and never raw.
func TestParseRefusesControlCharacters(t *testing.T) {
	for _, spot := range catalogSpots {
		for _, bc := range badChars {
			src := strings.Replace(good, spot.old, strings.Replace(spot.new, "X", bc.esc, 1), 1)
			if src == good {
				t.Fatalf("%s: replacement did not apply", spot.name)
			}
			_, err := Parse("bad.yaml", []byte(src))
			checkHostileError(t, spot.name+" "+bc.esc, err, spot.line, strings.Replace(spot.field, "X", Visible(yamlChar(t, bc.esc)), 1), bc.shown)
		}
	}
}

// checkHostileError: err is one line, an *Error at line/field whose
// message shows the character as shown, with nothing raw.
func checkHostileError(t *testing.T, what string, err error, line int, field, shown string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", what)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: %d lines, want one: %q", what, strings.Count(msg, "\n")+1, msg)
	}
	if _, desc, bad := firstForbidden(msg); bad {
		t.Errorf("%s: message holds %s raw: %q", what, desc, msg)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != line {
		t.Errorf("%s: %q; want line %d", what, msg, line)
	}
	if !strings.Contains(msg, ": "+field+": ") || !strings.Contains(msg, shown) {
		t.Errorf("%s: %q; want field %s and %s in it", what, msg, field, shown)
	}
}

// TestParseSiteRefusesControlCharacters: the same for site files.
func TestParseSiteRefusesControlCharacters(t *testing.T) {
	spots := []struct {
		name, src string
		line      int
		field     string
	}{
		{"host", `hosts: ["192.0.2.1X"]`, 1, "hosts[0]"},
		{"zone name", `zones: {"adminsX": [192.0.2.0/24]}`, 1, "zones.adminsX"},
		{"zone value", `zones: {admins: ["192.0.2.0/24X"]}`, 1, "zones.admins[0]"},
		{"feature", `features: {"clusterX": true}`, 1, "features.clusterX"},
		{"top key", `"hostsX": []`, 1, "hostsX"},
	}
	for _, spot := range spots {
		for _, bc := range badChars {
			_, err := ParseSite("site.yaml", []byte(strings.Replace(spot.src, "X", bc.esc, 1)+"\n"))
			checkHostileError(t, spot.name+" "+bc.esc, err, spot.line, strings.Replace(spot.field, "X", Visible(yamlChar(t, bc.esc)), 1), bc.shown)
		}
	}
}

// TestHostileKeyCountsAsOneProblem: row 9. A key holding a newline and
// ESC, with a second problem after it, makes exactly two lines, so that
// "(and N more)" counts right.
func TestHostileKeyCountsAsOneProblem(t *testing.T) {
	src := strings.Replace(good, "document: demo.txt", "document: demo.txt\n\"a\\nb\\e[2J\": 1", 1)
	src = strings.Replace(src, "direction: in", "direction: sideways", 1)
	_, err := Parse("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`bad.yaml:3: a\nb\x1b[2J: key has control character \x0a at character 2: control characters, bidi controls and line breaks are not allowed`,
		`bad.yaml:8: rows[0].direction: unknown direction "sideways" (want in, out or both)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("error lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestErrorShowsEverythingEscaped: an Error built by hand (a file name
// from the command line, a message quoting the file) is one line too.
func TestErrorShowsEverythingEscaped(t *testing.T) {
	e := &Error{File: "a\x1b]52;c;eA==\x07.yaml", Line: 3, Field: "x\ny", Msg: "bad \u202evalue\r"}
	want := `a\x1b]52;c;eA==\x07.yaml:3: x\ny: bad \u202evalue\r`
	if e.Error() != want {
		t.Errorf("%q, want %q", e.Error(), want)
	}
	if got := Visible("plain ü text"); got != "plain ü text" {
		t.Errorf("Visible changed clean text: %q", got)
	}
	if got := Visible("a\xffb"); got != `a\xffb` {
		t.Errorf("Visible(invalid UTF-8) = %q", got)
	}
}

// TestParseTextRules: what free text may hold. The title is free text
// too; the nftables export writes it only when it is of the comment set.
func TestParseTextRules(t *testing.T) {
	cases := []struct {
		name, old, new string
		ok             bool
		inExport       bool // the title is in the export's header
	}{
		{"nft syntax in a purpose", "peers: [any]", "peers: [any]\n    purpose: 'a \"b\"; c # d {e} $f \\g'", true, false},
		{"non-ASCII in a source text", `{text: "25 | TCP | In | SMTP"}`, `{text: "25 | TCP | In | SMTP…"}`, true, false},
		{"block scalar's final newline", "peers: [any]", "peers: [any]\n    purpose: |\n      mail in\n", true, false},
		{"folded block", "peers: [any]", "peers: [any]\n    purpose: >\n      mail\n      in\n", true, false},
		{"literal block of two lines", "peers: [any]", "peers: [any]\n    purpose: |\n      mail\n      in\n", false, false},
		{"title in the nft set", "document: demo.txt", "document: demo.txt\ntitle: \"Société Générale (v2.0): mail + web, 100% @home!\"", true, true},
		{"title with quotes and HTML", "document: demo.txt", "document: demo.txt\ntitle: 'Acme <Mail> & \"Filter\"'", true, false},
		{"title with a semicolon", "document: demo.txt", "document: demo.txt\ntitle: 'Demo; X'", true, false},
		{"title with a hash", "document: demo.txt", "document: demo.txt\ntitle: 'Demo #1'", true, false},
		{"title with braces", "document: demo.txt", "document: demo.txt\ntitle: 'Demo {x}'", true, false},
		{"title with a backslash", "document: demo.txt", "document: demo.txt\ntitle: 'Demo \\ x'", true, false},
		{"title with a zero-width space", "document: demo.txt", "document: demo.txt\ntitle: \"Demo\\u200bX\"", true, false},
		{"title with a newline", "document: demo.txt", "document: demo.txt\ntitle: \"Demo\\nX\"", false, false},
	}
	for _, tc := range cases {
		src := strings.Replace(good, tc.old, tc.new, 1)
		p, err := Parse("t.yaml", []byte(src))
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if p == nil {
			continue
		}
		if strings.Contains(tc.name, "block") && p.Requirements[0].Purpose != "mail in" {
			t.Errorf("%s: purpose %q", tc.name, p.Requirements[0].Purpose)
		}
		var buf bytes.Buffer
		if err := WriteNFTables(&buf, p, NFTOptions{}); err != nil {
			t.Fatalf("%s: export: %v", tc.name, err)
		}
		if err := checkNFTShape(buf.Bytes(), p.Name); err != nil {
			t.Errorf("%s: export: %v", tc.name, err)
		}
		header := strings.SplitN(buf.String(), "\n", 3)[1]
		if p.Title != "" && strings.Contains(header, p.Title) != tc.inExport {
			t.Errorf("%s: header %q; want the title in it: %v", tc.name, header, tc.inExport)
		}
		if p.Title == "" || !tc.inExport {
			if header != "# Generated by flowaudit catalog export: demo." {
				t.Errorf("%s: header %q", tc.name, header)
			}
		}
	}
}

// portsRow makes a product file of rows, each with the given ports list.
func portsRow(product string, rows int, ports string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "product: %s\ndocument: d\nrows:\n", product)
	for i := range rows {
		fmt.Fprintf(&b, "  - {name: r%d, direction: both, protocol: [tcp, udp], ports: [%s], peers: [any], source: {text: t}}\n", i, ports)
	}
	return b.Bytes()
}

func portList(lo, hi int) string {
	s := make([]string, 0, hi-lo+1)
	for p := lo; p <= hi; p++ {
		s = append(s, fmt.Sprint(p))
	}
	return strings.Join(s, ",")
}

// TestParseRow5: row 5 of issue 10, with its inputs generated here. A
// row listing all 65535 ports, and 200 rows of 2000 ports, are refused
// with a clear message, cheaply; the range 1-65535 is one requirement per
// direction and protocol, costs what one port costs, and writes [[1,65535]].
func TestParseRow5(t *testing.T) {
	for name, src := range map[string][]byte{
		"all ports listed": portsRow("allports", 1, portList(1, 65535)),
		"200 x 2000 ports": portsRow("bigports", 200, portList(1, 2000)),
	} {
		_, err := Parse("big.yaml", src)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		lines := strings.Split(err.Error(), "\n")
		if !strings.HasPrefix(lines[0], "big.yaml:4: rows[0].ports: ") || !strings.Contains(lines[0], `at most 1024 per row: write consecutive ports as one range, such as "1-65535"`) {
			t.Errorf("%s: %s", name, lines[0])
		}
		if len(lines) > maxErrors+1 {
			t.Errorf("%s: %d lines", name, len(lines))
		}
	}
	one, err := Parse("one.yaml", portsRow("p", 1, "25"))
	if err != nil {
		t.Fatal(err)
	}
	wide, err := Parse("wide.yaml", portsRow("p", 1, `"1-65535"`))
	if err != nil {
		t.Fatal(err)
	}
	if len(wide.Requirements) != 4 || wide.Requirements[0].ID != "p/in-tcp-1-65535-r0" {
		t.Fatalf("requirements %+v", wide.Requirements)
	}
	if b, _ := json.Marshal(wide.Requirements[0].Ports); string(b) != "[[1,65535]]" {
		t.Errorf("ports marshal to %s", b)
	}
	// The same digits' magnitude on both sides (fmt boxes a port over
	// 255 in an allocation): what may differ is only the width.
	allocs := func(src []byte) float64 {
		return testing.AllocsPerRun(20, func() { _, _ = Parse("x.yaml", src) })
	}
	if a1, aw := allocs(portsRow("p", 1, `"1-256"`)), allocs(portsRow("p", 1, `"1-65535"`)); aw != a1 {
		t.Errorf("a 1-65535 row allocates %v times, a 1-256 row %v", aw, a1)
	}
	if len(one.Requirements) != len(wide.Requirements) {
		t.Errorf("a one-port row makes %d requirements, a 1-65535 row %d", len(one.Requirements), len(wide.Requirements))
	}
}

// TestParseLimits: each bound of limits.go, just under and just over.
func TestParseLimits(t *testing.T) {
	row := func(extra string) string {
		return "  - {name: r, direction: in, protocol: tcp, ports: [1], peers: [any], source: {text: t}" + extra + "}\n"
	}
	list := func(n int, f func(i int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return strings.Join(s, ", ")
	}
	feats := func(n int) string {
		return "features: [" + list(n, func(i int) string { return fmt.Sprintf("{name: f%d, default: true}", i) }) + "]\n"
	}
	head := "product: demo\ndocument: d\n"
	cases := []struct {
		name, src string
		err       string
	}{
		{"1024 ports", head + "rows:\n" + strings.Replace(row(""), "ports: [1]", "ports: ["+portList(1, 1024)+"]", 1), ""},
		{"1025 ports", head + "rows:\n" + strings.Replace(row(""), "ports: [1]", "ports: ["+portList(1, 1025)+"]", 1), "rows[0].ports: 1025 entries, at most 1024 per row"},
		{"256 peers", head + "rows:\n" + strings.Replace(row(""), "peers: [any]", "peers: ["+list(256, func(i int) string { return fmt.Sprintf("ip:192.0.2.%d", i) })+"]", 1), ""},
		{"257 peers", head + "rows:\n" + strings.Replace(row(""), "peers: [any]", "peers: ["+list(257, func(i int) string { return "any" })+"]", 1), "rows[0].peers: 257 peers, at most 256 per row"},
		{"64 notes", head + "rows:\n" + row(", notes: ["+list(64, func(int) string { return "n" })+"]"), ""},
		{"65 notes", head + "rows:\n" + row(", notes: ["+list(65, func(int) string { return "n" })+"]"), "rows[0].notes: 65 notes, at most 64 per row"},
		{"64 features", head + feats(64) + "rows:\n" + row(""), ""},
		{"65 features", head + feats(65) + "rows:\n" + row(""), "features: 65 features, at most 64 per product"},
		{"2000 requirements", string(portsRow("demo", 2, portList(1, 250))), ""},
		{"2001 requirements", string(portsRow("demo", 2, portList(1, 250))) + row(""),
			"rows[2]: this row makes 1 more requirement after 2000 from the rows before it: at most 2000 per product"},
		{"id of 128", "product: " + strings.Repeat("p", 54) + "\ndocument: d\nrows:\n" + strings.Replace(row(""), "name: r,", "name: "+strings.Repeat("r", 64)+",", 1), ""},
		{"id of 129", "product: " + strings.Repeat("p", 55) + "\ndocument: d\nrows:\n" + strings.Replace(row(""), "name: r,", "name: "+strings.Repeat("r", 64)+",", 1), "is 129 characters long, at most 128"},
	}
	for _, tc := range cases {
		p, err := Parse("l.yaml", []byte(tc.src))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && tc.name == "2000 requirements" && len(p.Requirements) != MaxProductRequirements:
			t.Errorf("%s: %d requirements", tc.name, len(p.Requirements))
		}
	}
}

// TestCheckSize: overlaying files can take a product, or the catalog,
// over its bound; CheckSize says so.
func TestCheckSize(t *testing.T) {
	base, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if err := base.CheckSize(); err != nil {
		t.Fatalf("bundled: %v", err)
	}
	// 1996 new requirements for mailcleaner (27 bundled): over 2000.
	o, err := Parse("o.yaml", portsRow("mailcleaner", 2, portList(1, 249)))
	if err != nil {
		t.Fatal(err)
	}
	if err := base.Overlay(&Catalog{Products: []*Product{o}}).CheckSize(); err == nil || !strings.Contains(err.Error(), "product mailcleaner has 2019 requirements, at most 2000 per product") {
		t.Errorf("CheckSize = %v", err)
	}
	c := base
	for i := range 5 {
		o, err := Parse("o.yaml", portsRow(fmt.Sprintf("extra%d", i), 2, portList(1, 250)))
		if err != nil {
			t.Fatal(err)
		}
		c = c.Overlay(&Catalog{Products: []*Product{o}})
	}
	if err := c.CheckSize(); err == nil || err.Error() != "the catalog has 10173 requirements, at most 10000 in all" {
		t.Errorf("CheckSize = %v", err)
	}
}

// yamlChar decodes a YAML double-quoted escape ("\\e", "\\L"...) into the
// character it stands for.
func yamlChar(t *testing.T, esc string) string {
	t.Helper()
	var v string
	if err := yaml.Unmarshal([]byte(`"`+esc+`"`), &v); err != nil {
		t.Fatalf("yaml escape %s: %v", esc, err)
	}
	return v
}
