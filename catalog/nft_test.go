package catalog

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exports renders each bundled product with its features at their
// defaults and with all of them on.
func exports(t *testing.T, fn func(p *Product, name string, feats map[string]bool, out []byte)) {
	t.Helper()
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Products {
		all := map[string]bool{}
		for _, f := range p.Features() {
			all[f.Name] = true
		}
		for _, v := range []struct {
			name  string
			feats map[string]bool
		}{{"defaults", nil}, {"all", all}} {
			var buf bytes.Buffer
			if err := WriteNFTables(&buf, p, NFTOptions{Features: v.feats}); err != nil {
				t.Fatal(err)
			}
			fn(p, v.name, v.feats, buf.Bytes())
		}
	}
}

// TestNFTablesExport: the ruleset holds a rule for exactly the
// requirements that apply.
func TestNFTablesExport(t *testing.T) {
	exports(t, func(p *Product, name string, feats map[string]bool, out []byte) {
		if err := checkNFTShape(out, p.Name); err != nil {
			t.Errorf("%s/%s: %v", p.Name, name, err)
		}
		applied := 0
		for _, r := range p.Requirements {
			has := bytes.Contains(out, []byte(`accept comment "`+r.ID+`"`))
			if has != r.Applies(feats) {
				t.Errorf("%s/%s: %s in ruleset = %v, applies = %v", p.Name, name, r.ID, has, r.Applies(feats))
			}
			if has {
				applied++
			}
		}
		if applied == 0 {
			t.Errorf("%s/%s: no requirement exported", p.Name, name)
		}
	})
}

func TestNFTablesSiteFillsZones(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Product("mailcleaner")
	site, err := ParseSite("site.yaml", []byte("zones:\n  vendor-support: [198.51.100.0/24, 2001:db8:5::/48, 203.0.113.9]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteNFTables(&buf, p, NFTOptions{Site: site}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"elements = { 198.51.100.0/24, 203.0.113.9 }",
		"elements = { 2001:db8:5::/48 }",
		`ip saddr @zone_vendor_support_v4 tcp dport 22 accept comment "mailcleaner/in-tcp-22-ssh"`,
		`tcp dport 2703 accept comment "mailcleaner/out-tcp-2703-razor"`,
		"policy drop;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	if strings.Contains(out, `accept comment "mailcleaner/in-tcp-3306-cluster-db"`) {
		t.Error("export has cluster requirements though cluster defaults to off")
	}
}

// needNFT returns the nft binary for a test that has nft check or load
// rulesets: it skips, saying why, when nft is missing or the test is not
// root (nft -c needs CAP_NET_ADMIN), and fails instead under CI=true.
func needNFT(t *testing.T) string {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	nft, err := exec.LookPath("nft")
	if err != nil {
		if ci {
			t.Fatalf("nft not installed (CI needs the nftables package): %v", err)
		}
		t.Skipf("nft not installed: %v", err)
	}
	if os.Geteuid() != 0 {
		if ci {
			t.Fatal("not root: nft -c needs CAP_NET_ADMIN")
		}
		t.Skip("not root: nft -c needs CAP_NET_ADMIN")
	}
	return nft
}

// nftCheckFile runs nft -c -f on file and fails the test with nft's
// message when nft refuses it.
func nftCheckFile(t *testing.T, nft, file, what string) bool {
	t.Helper()
	if msg, err := exec.Command(nft, "-c", "-f", file).CombinedOutput(); err != nil {
		t.Errorf("%s: nft -c -f rejects the export: %v\n%s", what, err, msg)
		return false
	}
	return true
}

// TestPrivilegedNFTablesCheck has nft itself check every export
// (nft -c parses and validates against the kernel without loading; it
// needs CAP_NET_ADMIN).
func TestPrivilegedNFTablesCheck(t *testing.T) {
	nft := needNFT(t)
	checked := 0
	exports(t, func(p *Product, name string, _ map[string]bool, out []byte) {
		file := filepath.Join(t.TempDir(), p.Name+".nft")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		nftCheckFile(t, nft, file, p.Name+"/"+name)
		checked++
	})
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// TestNFTablesRefusesUnsafe: row 2 of issue 10. A product built in Go
// (not through Parse) with anything outside the export's character sets
// is refused, and nothing at all is written.
func TestNFTablesRefusesUnsafe(t *testing.T) {
	base := func() *Product {
		return &Product{Name: "demo", Title: "Demo", Requirements: []Requirement{{
			ID: "demo/in-tcp-25-smtp", Direction: In, Protocol: TCP, Ports: []PortRange{{25, 25}},
			Peers:   []Peer{{Kind: PeerHost, Value: "*.example.com"}, {Kind: PeerZone, Value: "admins"}, {Kind: PeerIP, Value: "192.0.2.0/24"}},
			Service: `anything "goes"; here # {}`, Purpose: "\x1b[2J", Notes: []string{"\n"}, Source: Source{Text: "x\ny"},
		}}}
	}
	var buf bytes.Buffer
	if err := WriteNFTables(&buf, base(), NFTOptions{}); err != nil {
		t.Fatalf("a clean product (service, purpose, notes and source never reach the file): %v", err)
	}
	if err := checkNFTShape(buf.Bytes(), "demo"); err != nil {
		t.Fatal(err)
	}
	evil := "x\ntable ip evil { chain c { type filter hook input priority 0; policy accept; } }\n#"
	// A title outside the comment set is left out, not refused.
	for _, title := range []string{evil, `Demo "x"`, "Demo \u202e", "Demo\r", "Demo }"} {
		p := base()
		p.Title = title
		var buf bytes.Buffer
		if err := WriteNFTables(&buf, p, NFTOptions{}); err != nil {
			t.Fatalf("title %q: %v", title, err)
		}
		if err := checkNFTShape(buf.Bytes(), p.Name); err != nil || bytes.Contains(buf.Bytes(), []byte("Demo ")) || bytes.Contains(buf.Bytes(), []byte("evil")) {
			t.Errorf("title %q: shape %v; the title reaches the file: %v", title, err, bytes.Contains(buf.Bytes(), []byte("Demo ")))
		}
	}
	for name, edit := range map[string]func(p *Product){
		"product name":    func(p *Product) { p.Name = "demo; flush ruleset" },
		"id quote":        func(p *Product) { p.Requirements[0].ID = `demo/x"; flush ruleset; "` },
		"id too long":     func(p *Product) { p.Requirements[0].ID = "demo/" + strings.Repeat("a", 124) },
		"protocol":        func(p *Product) { p.Requirements[0].Protocol = "tcp dport 1 accept; flush ruleset; tcp" },
		"direction":       func(p *Product) { p.Requirements[0].Direction = "sideways" },
		"no ports":        func(p *Product) { p.Requirements[0].Ports = nil },
		"port zero":       func(p *Product) { p.Requirements[0].Ports = []PortRange{{0, 5}} },
		"host":            func(p *Product) { p.Requirements[0].Peers[0].Value = "a.example.com }\nflush ruleset" },
		"zone":            func(p *Product) { p.Requirements[0].Peers[1].Value = "admins_v4 { }" },
		"ip":              func(p *Product) { p.Requirements[0].Peers[2].Value = "192.0.2.0/24 }" },
		"peer kind":       func(p *Product) { p.Requirements[0].Peers[0].Kind = "raw" },
		"condition":       func(p *Product) { p.Requirements[0].Condition = &Condition{Feature: "x\ny"} },
		"feature name":    func(p *Product) { p.features = []Feature{{Name: "a\nflush ruleset"}} },
		"ESC in the name": func(p *Product) { p.Name = "demo\x1b[2J" },
	} {
		p := base()
		edit(p)
		var buf bytes.Buffer
		err := WriteNFTables(&buf, p, NFTOptions{})
		if err == nil || buf.Len() != 0 {
			t.Errorf("%s: error %v, %d bytes written", name, err, buf.Len())
			continue
		}
		if _, desc, bad := firstForbidden(err.Error()); bad {
			t.Errorf("%s: error holds %s raw: %q", name, desc, err)
		}
	}
}

// TestNFTablesExportRow2: the overlay of issue 10's row 2 (a title with
// newlines that would add a table of its own) is refused by the loader,
// so neither validate nor export gets to write it.
func TestNFTablesExportRow2(t *testing.T) {
	src := "product: demo\ntitle: \"Demo\\ntable ip evil {\\n  chain c { type filter hook input priority 0; policy accept; }\\n}\\n#\"\n" +
		"document: d\nrows:\n  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [any], source: {text: t}}\n"
	_, err := Parse("row2.yaml", []byte(src))
	want := `row2.yaml:2: title: value has control character \x0a at character 5: control characters, bidi controls and line breaks are not allowed`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}
