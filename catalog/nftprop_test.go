package catalog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The property test of issue 10: random strings in every field of a
// catalog and a site file. What the loader accepts must export to an
// nftables file that defines exactly one table, flowaudit's, and whose
// every string is from the export's character sets; what it refuses must
// be refused with one-line errors that show no control character raw.

// propCases is how many catalogs make test generates; -short uses fewer.
// FLOWAUDIT_PROP_SEED picks another sequence (the default is fixed so
// that a failure reproduces).
const propCases = 400

// nastyStrings end or escape something in one of the sinks.
var nastyStrings = []string{
	"\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\u0085", "\u009b", "\u202e", "\u2066", "\u2028", "\u2029", "\u200f",
	`"`, `'`, ";", "{", "}", "#", `\`, "$", "`", "|", "<", ">", "&", "*", "@", "%",
	"\x1b[2J", "\x1b]52;c;ZXZpbA==\x07", "\n#", `"; table ip evil { }`, "\ntable ip evil {\n}\n",
	"x\"\n}\n}\ntable ip evil { chain c { type filter hook input priority 0; policy accept; } }\n#",
	"\u202eevil", "é", "中文", "ß", "Ω", "🙂", "\ufeff", "\u200b",
}

// propDoc is one generated catalog and site, field by field; propFields
// name the fields a case replaces with random strings.
type propDoc struct {
	product, title, document    string
	featName, featDesc, featDef string
	rows                        []propRow
	extraKey                    [3]string // an unknown key at the top, in a row, in a source ("" for none)
	hosts, zoneKey, zoneVal     string
	siteFeat                    string
}

type propRow struct {
	name, direction, protocol, service, purpose, condition, oneway, srcDoc, srcText string
	ports, peers, notes                                                             []string
}

// freeFields hold free text: anything printable is allowed in them but
// the title's nft character set.
var freeFields = []string{"title", "document", "feature.description", "row.service", "row.purpose", "row.notes", "row.source.document", "row.source.text"}

var propFields = map[string]func(d *propDoc, v string){
	"product": func(d *propDoc, v string) { d.product = v }, "title": func(d *propDoc, v string) { d.title = v },
	"document": func(d *propDoc, v string) { d.document = v }, "feature.name": func(d *propDoc, v string) { d.featName = v },
	"feature.description": func(d *propDoc, v string) { d.featDesc = v }, "feature.default": func(d *propDoc, v string) { d.featDef = v },
	"row.name": func(d *propDoc, v string) { d.rows[0].name = v }, "row.direction": func(d *propDoc, v string) { d.rows[0].direction = v },
	"row.protocol": func(d *propDoc, v string) { d.rows[0].protocol = v }, "row.service": func(d *propDoc, v string) { d.rows[0].service = v },
	"row.purpose": func(d *propDoc, v string) { d.rows[0].purpose = v }, "row.condition": func(d *propDoc, v string) { d.rows[0].condition = v },
	"row.oneway": func(d *propDoc, v string) { d.rows[0].oneway = v }, "row.source.document": func(d *propDoc, v string) { d.rows[0].srcDoc = v },
	"row.source.text": func(d *propDoc, v string) { d.rows[0].srcText = v },
	"row.ports":       func(d *propDoc, v string) { d.rows[0].ports = append(d.rows[0].ports, v) },
	"row.peers":       func(d *propDoc, v string) { d.rows[0].peers = append(d.rows[0].peers, v) },
	"row.notes":       func(d *propDoc, v string) { d.rows[0].notes = append(d.rows[0].notes, v) },
	"key.top":         func(d *propDoc, v string) { d.extraKey[0] = v }, "key.row": func(d *propDoc, v string) { d.extraKey[1] = v },
	"key.source": func(d *propDoc, v string) { d.extraKey[2] = v }, "site.hosts": func(d *propDoc, v string) { d.hosts = v },
	"site.zone.key": func(d *propDoc, v string) { d.zoneKey = v }, "site.zone.value": func(d *propDoc, v string) { d.zoneVal = v },
	"site.feature": func(d *propDoc, v string) { d.siteFeat = v },
}

type propGen struct{ r *rand.Rand }

func (g *propGen) pick(list []string) string { return list[g.r.IntN(len(list))] }

// text makes a string from the runes of pool, first one not a space.
func (g *propGen) text(pool []rune, lo, hi int) string {
	n := lo + g.r.IntN(hi-lo+1)
	var b strings.Builder
	for b.Len() < n {
		c := pool[g.r.IntN(len(pool))]
		if b.Len() == 0 && c == ' ' {
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

var (
	// nftPool is what a title may hold: the nft comment set, in several scripts.
	nftPool = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      " + nftCommentPunct + "éßΩж中٣")
	// freePool is what free text may hold: all that is printable,
	// including what nft or Markdown would read as syntax.
	freePool = []rune("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ éßΩж中٣…🙂\u00a0\u200b\ufeff")
	// hostilePool adds what no catalog string may hold.
	hostilePool = append([]rune("\x00\x01\t\n\r\x1b\x7f\u0080\u0085\u009b\u009f\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"), freePool...)
)

// random makes a string of one of five kinds: random bytes (often not
// UTF-8), random Unicode, a nasty string, a valid value with nasty
// strings put in, or printable text.
func (g *propGen) random(valid string) string {
	switch g.r.IntN(5) {
	case 0:
		b := make([]byte, g.r.IntN(12))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		return string(b)
	case 1:
		var b strings.Builder
		for range 1 + g.r.IntN(10) {
			switch g.r.IntN(3) {
			case 0:
				b.WriteRune(hostilePool[g.r.IntN(len(hostilePool))])
			case 1:
				b.WriteRune(rune(g.r.IntN(0xd800)))
			default:
				b.WriteRune(rune(0xe000 + g.r.IntN(0x10ffff-0xe000)))
			}
		}
		return b.String()
	case 2:
		return g.pick(nastyStrings)
	case 3:
		s := valid
		for range 1 + g.r.IntN(2) {
			i := g.r.IntN(len(s) + 1)
			s = s[:i] + g.pick(nastyStrings) + s[i:]
		}
		return s
	}
	return g.text(freePool, 1, 30)
}

// doc makes a valid catalog and site.
func (g *propGen) doc(i int) *propDoc {
	d := &propDoc{
		product: fmt.Sprintf("p%d-x", i%7), title: g.text(nftPool, 1, 40), document: g.text(freePool, 1, 20),
		featName: "f1", featDesc: g.text(freePool, 1, 30), featDef: g.pick([]string{"true", "false"}),
		hosts: "192.0.2.10", zoneKey: "z1", zoneVal: g.pick([]string{"198.51.100.0/24", "2001:db8:5::/48", "203.0.113.9"}), siteFeat: "f1",
	}
	for j := range 1 + g.r.IntN(3) {
		r := propRow{
			name: fmt.Sprintf("r%d", j), direction: g.pick([]string{"in", "out", "both"}),
			protocol: g.pick([]string{"tcp", "udp", "icmp", "tcp, udp"}),
			service:  g.text(freePool, 1, 20), purpose: g.text(freePool, 1, 40), srcText: g.text(freePool, 1, 60),
			notes: []string{g.text(freePool, 1, 30)},
		}
		if r.protocol != "icmp" {
			r.ports = []string{strconv.Itoa(1 + g.r.IntN(999)), fmt.Sprintf("%d-%d", 1000+j*100, 1000+j*100+g.r.IntN(99)), "65535"}[:1+g.r.IntN(3)]
		}
		if r.protocol == "udp" && g.r.IntN(2) == 0 {
			r.oneway = "true"
		}
		if g.r.IntN(2) == 0 {
			r.condition = "f1"
		}
		r.peers = []string{g.pick([]string{"any", "zone:z1", "zone:other-zone", "host:*.example.com", "host:mx.example.org", "ip:192.0.2.0/24", "ip:2001:db8::1"})}
		if g.r.IntN(2) == 0 {
			r.peers = append(r.peers, g.pick([]string{"host:a.example.net", "ip:198.51.100.7", "zone:z1"}))
		}
		d.rows = append(d.rows, r)
	}
	return d
}

// placeholder (and a number) stands for a field whose random bytes are
// put into the YAML text as they are, rather than encoded by the YAML
// writer: strings that are not UTF-8 always are.
const placeholder = "PROPRAWFIELD"

func qs(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle}
}

func qseq(vs []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range vs {
		n.Content = append(n.Content, qs(v))
	}
	return n
}

// qmap makes a mapping of keys to values, leaving out empty values and
// adding extra (when not "") as a key of its own.
func qmap(extra string, kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			if v != "" {
				n.Content = append(n.Content, qs(kv[i].(string)), qs(v))
			}
		case []string:
			if len(v) > 0 {
				n.Content = append(n.Content, qs(kv[i].(string)), qseq(v))
			}
		case *yaml.Node:
			n.Content = append(n.Content, qs(kv[i].(string)), v)
		}
	}
	if extra != "" {
		n.Content = append(n.Content, qs(extra), qs("x"))
	}
	return n
}

func (d *propDoc) yaml() (catalog, site []byte, err error) {
	rows := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range d.rows {
		proto := any(r.protocol)
		if strings.Contains(r.protocol, ", ") {
			proto = strings.Split(r.protocol, ", ")
		}
		rows.Content = append(rows.Content, qmap(d.extraKey[1],
			"name", r.name, "direction", r.direction, "protocol", proto, "ports", r.ports, "peers", r.peers,
			"service", r.service, "purpose", r.purpose, "condition", r.condition, "notes", r.notes, "oneway", r.oneway,
			"source", qmap(d.extraKey[2], "document", r.srcDoc, "text", r.srcText)))
	}
	feats := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{qmap("", "name", d.featName, "default", d.featDef, "description", d.featDesc)}}
	cat := qmap(d.extraKey[0], "product", d.product, "title", d.title, "document", d.document, "features", feats, "rows", rows)
	if catalog, err = yaml.Marshal(cat); err != nil {
		return nil, nil, err
	}
	zones := qmap("", d.zoneKey, []string{d.zoneVal})
	s := qmap("", "hosts", []string{d.hosts}, "zones", zones, "features", qmap("", d.siteFeat, "true"))
	site, err = yaml.Marshal(s)
	return catalog, site, err
}

// propCase is one generated catalog and site, and what came of them.
type propCase struct {
	what          string // the fields replaced, for messages
	catalog, site []byte
	product       *Product
	export        []byte // when the catalog was accepted
	// siteParsed and features are what the export was made with
	// (siteParsed nil when the site file was refused).
	siteParsed *Site
	features   map[string]bool
}

// genCases makes n cases: each a valid catalog with one to three fields
// replaced by random strings (one case in ten: every field), written
// through the YAML encoder or, one time in four, spliced in raw.
func genCases(t *testing.T, n int) []propCase {
	t.Helper()
	seed := uint64(10)
	if s := os.Getenv("FLOWAUDIT_PROP_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FLOWAUDIT_PROP_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (set FLOWAUDIT_PROP_SEED to change it)", seed)
	g := &propGen{r: rand.New(rand.NewPCG(seed, 0x5eed))}
	names := make([]string, 0, len(propFields))
	for k := range propFields {
		names = append(names, k)
	}
	slices.Sort(names)
	var cases []propCase
	for i := range n {
		d := g.doc(i)
		var picked []string
		k := 1 + g.r.IntN(3)
		if i%10 == 9 {
			k = len(names)
		}
		// One case in three puts printable text, nft's syntax characters
		// included, in the free-text fields: it should be accepted, and
		// none of it may reach the export.
		printable := i%3 == 1
		raw := map[string]string{}
		for range k {
			f := g.pick(names)
			v := g.random(f)
			if printable {
				f = g.pick(freeFields)
				v = g.text(freePool, 1, 40)
				if f == "title" && g.r.IntN(2) == 0 {
					v = g.text(nftPool, 1, 40)
				}
			}
			notUTF8 := !utf8.ValidString(v)
			if notUTF8 || g.r.IntN(4) == 0 {
				ph := fmt.Sprintf("%s%dX", placeholder, len(raw))
				raw[ph] = v
				v = ph
				f += " (raw)"
			}
			propFields[strings.TrimSuffix(f, " (raw)")](d, v)
			picked = append(picked, fmt.Sprintf("%s=%q", f, v))
		}
		c := propCase{what: strings.Join(picked, ", ")}
		var err error
		if c.catalog, c.site, err = d.yaml(); err != nil {
			t.Fatalf("%s: write YAML: %v", c.what, err)
		}
		for ph, v := range raw {
			c.catalog = bytes.ReplaceAll(c.catalog, []byte(ph), []byte(v))
			c.site = bytes.ReplaceAll(c.site, []byte(ph), []byte(v))
			c.what = strings.ReplaceAll(c.what, strconv.Quote(ph), strconv.Quote(v))
		}
		cases = append(cases, c)
	}
	return cases
}

// runCase loads one case and checks what the loader made of it: refused
// with clean one-line errors, or accepted with clean strings and an
// export of the right shape (kept in c.export).
func runCase(t *testing.T, c *propCase) {
	t.Helper()
	p, err := Parse("case.yaml", c.catalog)
	if err != nil {
		checkErrorLines(t, c, err, "case.yaml")
		return
	}
	c.product = p
	if s, ok := productStrings(p); !ok {
		t.Errorf("%s: accepted with a control or bidi character in %q", c.what, s)
	}
	site, err := ParseSite("site.yaml", c.site)
	if err != nil {
		checkErrorLines(t, c, err, "site.yaml")
		site = nil
	}
	feats := map[string]bool{}
	for _, f := range p.Features() {
		feats[f.Name] = len(c.catalog)%2 == 0
	}
	c.siteParsed, c.features = site, feats
	var buf bytes.Buffer
	if err := WriteNFTables(&buf, p, NFTOptions{Features: feats, Site: site}); err != nil {
		t.Errorf("%s: accepted, but the export fails: %v", c.what, err)
		return
	}
	if err := checkNFTShape(buf.Bytes(), p.Name); err != nil {
		t.Errorf("%s: export: %v", c.what, err)
		return
	}
	c.export = buf.Bytes()
}

// checkErrorLines: one line per problem, each naming the file, with no
// control or bidi character in it.
func checkErrorLines(t *testing.T, c *propCase, err error, file string) {
	t.Helper()
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, file+":") {
			t.Errorf("%s: error line does not name the file: %q", c.what, line)
		}
		if _, desc, bad := firstForbidden(line); bad {
			t.Errorf("%s: error line holds %s raw: %q", c.what, desc, line)
		}
	}
}

// productStrings checks every string of an accepted product; it returns
// the first bad one.
func productStrings(p *Product) (string, bool) {
	all := []string{p.Name, p.Title}
	for _, f := range p.Features() {
		all = append(all, f.Name, f.Description)
	}
	for _, r := range p.Requirements {
		all = append(all, r.ID, r.Service, r.Purpose, r.Source.Document, r.Source.Text)
		all = append(all, r.Notes...)
		for _, peer := range r.Peers {
			all = append(all, peer.Value)
		}
	}
	for _, s := range all {
		if _, _, bad := firstForbidden(s); bad || !utf8.ValidString(s) {
			return s, false
		}
	}
	return "", true
}

func propCount(t *testing.T) int {
	if testing.Short() {
		return propCases / 4
	}
	return propCases
}

// TestNFTablesProperty runs the generated cases through the loader and
// the export, and checks the shape of every export without nft (see
// TestPrivilegedNFTablesProperty for nft's own verdict).
func TestNFTablesProperty(t *testing.T) {
	cases := genCases(t, propCount(t))
	accepted := 0
	for i := range cases {
		runCase(t, &cases[i])
		if cases[i].export != nil {
			accepted++
		}
	}
	t.Logf("%d cases: %d accepted and exported, %d refused", len(cases), accepted, len(cases)-accepted)
	// Both sides must be exercised, or the test proves little.
	if accepted < len(cases)/5 || len(cases)-accepted < len(cases)/5 {
		t.Errorf("%d of %d cases accepted: the generator needs rebalancing", accepted, len(cases))
	}
}

// TestPrivilegedNFTablesProperty has nft judge every export the property
// test makes: nft -c -f over all of them at once (one process: starting
// nft costs tens of milliseconds here), then the same batch loaded into
// a throwaway network namespace, where `nft list tables` must show the
// cases' flowaudit tables and nothing else. The static shape check has
// already held each file to exactly one table.
func TestPrivilegedNFTablesProperty(t *testing.T) {
	nft := needNFT(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("unshare not installed (util-linux): %v", err)
		}
		t.Skipf("unshare not installed: %v", err)
	}
	cases := genCases(t, propCount(t))
	dir := t.TempDir()
	var batch bytes.Buffer
	var files []string
	want := map[string]bool{}
	for i := range cases {
		runCase(t, &cases[i])
		if cases[i].export == nil {
			continue
		}
		f := filepath.Join(dir, fmt.Sprintf("case-%03d.nft", i))
		if err := os.WriteFile(f, cases[i].export, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		fmt.Fprintf(&batch, "include \"%s\"\n", f)
		want["table inet flowaudit_"+nftIdent(cases[i].product.Name)] = true
	}
	all := filepath.Join(dir, "all.nft")
	if err := os.WriteFile(all, batch.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !nftCheckFile(t, nft, all, fmt.Sprintf("%d exports", len(files))) {
		for _, f := range files { // find the culprits
			nftCheckFile(t, nft, f, filepath.Base(f))
		}
		return
	}
	checked := time.Since(start)
	out, err := exec.Command(unshare, "--net", "sh", "-c", `"$1" -f "$2" && "$1" list tables`, "sh", nft, all).CombinedOutput()
	if err != nil {
		t.Fatalf("load the exports in a new network namespace: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		got[line] = true
		if !want[line] {
			t.Errorf("after loading the exports, nft lists %q", line)
		}
	}
	for table := range want {
		if !got[table] {
			t.Errorf("after loading the exports, %s is missing", table)
		}
	}
	t.Logf("%d exports: nft -c accepts them (%v); loaded (%v), they make %d tables, all flowaudit's",
		len(files), checked.Round(time.Millisecond), (time.Since(start) - checked).Round(time.Millisecond), len(got))
}
