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

// TestPrivilegedNFTablesCheck has nft itself check every export
// (nft -c parses and validates against the kernel without loading; it
// needs CAP_NET_ADMIN).
func TestPrivilegedNFTablesCheck(t *testing.T) {
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
	checked := 0
	exports(t, func(p *Product, name string, _ map[string]bool, out []byte) {
		file := filepath.Join(t.TempDir(), p.Name+".nft")
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command(nft, "-c", "-f", file).CombinedOutput(); err != nil {
			t.Errorf("%s/%s: nft -c -f rejects the export: %v\n%s", p.Name, name, err, msg)
		}
		checked++
	})
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}
