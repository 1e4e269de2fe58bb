package catalog

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBundled(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"clearswift-seg", "mailcleaner", "securitygateway", "spamexperts"}
	if got := c.Names(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("products = %v, want %v", got, want)
	}
	for _, p := range c.Products {
		if p.Title == "" {
			t.Errorf("%s: no title", p.Name)
		}
		feats := map[string]Feature{}
		for _, f := range p.Features() {
			feats[f.Name] = f
			if f.Description == "" {
				t.Errorf("%s: feature %s has no description", p.Name, f.Name)
			}
		}
		used := map[string]bool{}
		for _, r := range p.Requirements {
			if !strings.HasPrefix(r.ID, p.Name+"/") {
				t.Errorf("%s: id %s lacks the product prefix", p.Name, r.ID)
			}
			if r.Service == "" || r.Purpose == "" {
				t.Errorf("%s: service or purpose empty", r.ID)
			}
			if r.Condition != nil {
				used[r.Condition.Feature] = true
				if f, ok := feats[r.Condition.Feature]; !ok || f.Default != r.Condition.Default {
					t.Errorf("%s: condition %+v does not match the declared feature", r.ID, r.Condition)
				}
			}
		}
		for name := range feats {
			if !used[name] {
				t.Errorf("%s: feature %s is declared but no requirement uses it", p.Name, name)
			}
		}
	}
}

func TestProductUnknownListsNames(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Product("mailcleaner"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Product("mailclean")
	if err == nil || !strings.Contains(err.Error(), "mailcleaner, securitygateway") {
		t.Fatalf("error = %v; want it to list the known products", err)
	}
}

func TestOverlay(t *testing.T) {
	base, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	user := filepath.Join(dir, "local.yaml")
	// Replaces one bundled requirement, adds one, declares a feature again
	// with another default, and adds a whole new product in a second file.
	writeFile(t, user, `product: mailcleaner
document: our-firewall-policy.txt
features: [{name: cluster, default: true, description: we run a cluster}]
rows:
  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [zone:upstream-relay], service: SMTP, purpose: only from our relay, source: {text: "policy 4.2"}}
  - {name: submission, direction: in, protocol: tcp, ports: [587], peers: [zone:clients], service: SMTP, purpose: local submission, condition: cluster, source: {text: "policy 4.3"}}
`)
	extra := filepath.Join(dir, "other.yaml")
	writeFile(t, extra, "product: other\ndocument: x\nrows:\n  - {name: ssh, direction: in, protocol: tcp, ports: [22], peers: [any], source: {text: y}}\n")
	o1, err := LoadFile(user)
	if err != nil {
		t.Fatal(err)
	}
	o2, err := LoadFile(extra)
	if err != nil {
		t.Fatal(err)
	}
	c := base.Overlay(o1).Overlay(o2)
	mc, _ := c.Product("mailcleaner")
	orig, _ := base.Product("mailcleaner")
	if len(mc.Requirements) != len(orig.Requirements)+1 {
		t.Errorf("overlaid mailcleaner has %d requirements, want %d", len(mc.Requirements), len(orig.Requirements)+1)
	}
	if r := mc.Requirement("mailcleaner/in-tcp-25-smtp"); r == nil || r.Peers[0].Value != "upstream-relay" {
		t.Errorf("in-tcp-25-smtp not replaced: %+v", r)
	}
	if r := orig.Requirement("mailcleaner/in-tcp-25-smtp"); r.Peers[0].Kind != PeerAny {
		t.Errorf("Overlay modified the base catalog: %+v", r)
	}
	if r := mc.Requirement("mailcleaner/in-tcp-587-submission"); r == nil {
		t.Error("in-tcp-587-submission not added")
	}
	for _, f := range mc.Features() {
		if f.Name == "cluster" && !f.Default {
			t.Error("feature cluster not replaced")
		}
	}
	if r := mc.Requirement("mailcleaner/in-tcp-3306-cluster-db"); r == nil || !r.Condition.Default {
		t.Errorf("bundled cluster requirement does not take the new default: %+v", r)
	}
	if r := orig.Requirement("mailcleaner/in-tcp-3306-cluster-db"); r.Condition.Default {
		t.Error("Overlay changed the base catalog's condition")
	}
	if _, err := c.Product("other"); err != nil {
		t.Error(err)
	}
	if _, err := base.Product("other"); err == nil {
		t.Error("Overlay added a product to the base catalog")
	}
}

func TestLoadFileErrors(t *testing.T) {
	if _, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml")); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "product: x\nrows:\n  - {name: a, direction: in, protocol: tcp, ports: [99999], peers: [any], source: {document: d, text: t}}\n  - {name: b, direction: sideways, protocol: tcp, ports: [1], peers: [any], source: {document: d, text: t}}\n")
	c, err := LoadFile(bad)
	if c != nil || err == nil {
		t.Fatalf("LoadFile = %v, %v", c, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], bad+":3: rows[0].ports[0]: ") || !strings.HasPrefix(lines[1], bad+":4: rows[1].direction: ") {
		t.Errorf("errors =\n%v", err)
	}
}

func TestLoadSite(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "site.yaml")
	writeFile(t, good, `hosts: [192.0.2.10, 2001:db8:1::10]
zones:
  vendor-support: [198.51.100.0/24, 203.0.113.5]
  clients: []
features: {cluster: true, pmm: false}
`)
	s, err := LoadSite(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hosts) != 2 || s.Hosts[1] != netip.MustParseAddr("2001:db8:1::10") {
		t.Errorf("hosts = %v", s.Hosts)
	}
	if z := s.Zones["vendor-support"]; len(z) != 2 || z[1] != netip.MustParsePrefix("203.0.113.5/32") {
		t.Errorf("zones = %v", s.Zones)
	}
	if !s.Features["cluster"] || s.Features["pmm"] || len(s.Features) != 2 {
		t.Errorf("features = %v", s.Features)
	}
	cases := []struct{ src, want string }{
		{"hosts: [192.0.2.300]\n", ":1: hosts[0]: \"192.0.2.300\" is not an IP address"},
		{"zones:\n  dmz: [192.0.2.1/24]\n", ":2: zones.dmz[0]: \"192.0.2.1/24\": prefix has host bits set"},
		{"zones:\n  dmz: [banana]\n", ":2: zones.dmz[0]: \"banana\": not an IP address or CIDR prefix"},
		{"zones:\n  DMZ: [192.0.2.0/24]\n", ":2: zones.DMZ: zone name"},
		{"features: {cluster: perhaps}\n", ":1: features.cluster: must be true or false"},
		{"hosts: []\nzone: {}\n", ":2: zone: unknown key"},
		{"hosts: 192.0.2.1\n", ":1: hosts: must be a list"},
	}
	for _, tc := range cases {
		f := filepath.Join(dir, "bad.yaml")
		writeFile(t, f, tc.src)
		s, err := LoadSite(f)
		if s != nil || err == nil || !strings.HasPrefix(err.Error(), f+tc.want) {
			t.Errorf("LoadSite(%q) = %v, %v; want %s%s", tc.src, s, err, f, tc.want)
		}
	}
}

func TestApplies(t *testing.T) {
	off := &Requirement{Condition: &Condition{Feature: "cluster", Default: false}}
	on := &Requirement{Condition: &Condition{Feature: "ntp", Default: true}}
	always := &Requirement{}
	if off.Applies(nil) || !on.Applies(nil) || !always.Applies(nil) {
		t.Error("defaults not honoured")
	}
	f := map[string]bool{"cluster": true, "ntp": false}
	if !off.Applies(f) || on.Applies(f) || !always.Applies(f) {
		t.Error("declared features not honoured")
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestZoneVocabulary: the bundled products use only the documented zone
// vocabulary, every zone of it is used, and docs/catalog.md lists them.
func TestZoneVocabulary(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range c.Products {
		for _, r := range p.Requirements {
			for _, peer := range r.Peers {
				if peer.Kind != PeerZone {
					continue
				}
				used[peer.Value] = true
				if ZoneDescription(peer.Value) == "" {
					t.Errorf("%s: zone %q is not in the shared vocabulary (zones.go)", r.ID, peer.Value)
				}
			}
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "catalog.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range KnownZones() {
		if !used[z] {
			t.Errorf("zone %s is in the vocabulary but no product uses it", z)
		}
		if !strings.Contains(string(doc), "`"+z+"`") {
			t.Errorf("docs/catalog.md does not list zone %s", z)
		}
	}
}
