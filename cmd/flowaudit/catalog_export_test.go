package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCatalogIO runs flowaudit with args and returns stdout and stderr.
func runCatalogIO(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestCatalogValidateKinds: issue 12 item 9. validate tells a site file
// from a catalog file by its keys (the site file that got "unknown key
// hosts" is now checked as a site file), --site FILE and --catalog FILE
// say the kind as every other command reads them, the old spelling
// `validate --site FILE` means the same, and several files are checked
// in one run.
func TestCatalogValidateKinds(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.yaml")
	writeCatalogFile(t, site, "hosts: [192.0.2.10]\nzones: {dns-servers: [192.0.2.53]}\n")
	cat := filepath.Join(dir, "local.yaml")
	writeCatalogFile(t, cat, "product: mine\ndocument: d\nrows:\n  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [any], source: {text: t}}\n")
	bad := filepath.Join(dir, "bad-site.yaml")
	writeCatalogFile(t, bad, "hosts: [192.0.2.10]\nzones:\n  clients: [198.51.100.0/33]\n")
	neither := filepath.Join(dir, "neither.yaml")
	writeCatalogFile(t, neither, "colour: blue\n")
	siteOK := site + ": ok: site file: 1 host, 1 zone, 0 features\n"
	catOK := cat + ": ok: catalog file: product mine, 1 requirement, 0 features\n"
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
		err            string
	}{
		{[]string{site}, siteOK, "", ""},
		{[]string{"--site", site}, siteOK, "", ""},
		{[]string{"--site=" + site}, siteOK, "", ""},
		{[]string{cat}, catOK, "", ""},
		{[]string{"--catalog", cat}, catOK, "", ""},
		{[]string{site, "--catalog", cat}, catOK + siteOK, "", ""},
		{[]string{bad}, "", "", bad + `:3: zones.clients[0]: "198.51.100.0/33": not an IP address or CIDR prefix`},
		// Told to read a site file as a catalog, validate says what is wrong with it as one.
		{[]string{"--catalog", site}, "", site + ":1: hosts: unknown key (allowed: product, title, document, features, rows)\n" +
			site + ":2: zones: unknown key (allowed: product, title, document, features, rows)\n" +
			site + ": this looks like a site file: check it without --catalog\n", site + ": 2 problems (listed above)"},
		{[]string{neither}, "", "", neither + ":1: neither a catalog file (product, rows) nor a site file (hosts, zones, features): its top-level keys are colour"},
		{[]string{site, bad, cat}, siteOK + catOK, bad + `:3: zones.clients[0]: "198.51.100.0/33": not an IP address or CIDR prefix` + "\n", "1 of 3 files have problems (listed above)"},
		{[]string{filepath.Join("..", "..", "site.example.yaml")}, filepath.Join("..", "..", "site.example.yaml") + ": ok: site file: 2 hosts, 18 zones, 1 feature\n", "", ""},
	} {
		stdout, stderr, err := runCatalogIO(t, append([]string{"catalog", "validate"}, tc.args...)...)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if stdout != tc.stdout || stderr != tc.stderr || gotErr != tc.err {
			t.Errorf("validate %v:\nstdout %q\nstderr %q\nerror  %q\nwant\nstdout %q\nstderr %q\nerror  %q", tc.args, stdout, stderr, gotErr, tc.stdout, tc.stderr, tc.err)
		}
	}
}

// TestCatalogExportWarnsOnStderr: issue 12 item 6. The export that locked
// the lab's admin out says so on stderr, naming the empty zone and its
// requirements; the ruleset alone goes to stdout; with the zone filled
// and --allow-admin, the lock-out warnings are gone.
func TestCatalogExportWarnsOnStderr(t *testing.T) {
	stdout, stderr, err := runCatalogIO(t, "catalog", "export", "mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, "#!/usr/sbin/nft -f\n") || strings.Contains(stdout, "flowaudit: warning") {
		t.Errorf("stdout is not the ruleset alone:\n%.200s", stdout)
	}
	for _, want := range []string{
		"flowaudit: warning: LOCK-OUT RISK: zone vendor-support has no addresses, so these inbound requirements admit nobody from it until it is filled (site file zones, --site): mailcleaner/in-tcp-22-ssh, mailcleaner/in-tcp-80-web, mailcleaner/in-tcp-443-web\n",
		"flowaudit: warning: LOCK-OUT RISK: no --allow-admin: SSH and web UI ports (tcp 22, 80, 443)",
		"flowaudit: warning: no applicable requirement lets the gateway reach NTP servers (udp 123)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	site := filepath.Join(t.TempDir(), "site.yaml")
	writeCatalogFile(t, site, "zones: {vendor-support: [198.51.100.0/24]}\n")
	_, stderr, err = runCatalogIO(t, "catalog", "export", "mailcleaner", "--site", site, "--allow-admin", "192.0.2.0/28", "--allow-admin", "2001:db8:ad::/48")
	if err != nil || strings.Contains(stderr, "LOCK-OUT") {
		t.Errorf("filled in: %v\n%s", err, stderr)
	}
}

// TestCatalogOutputFiles: -o on export and show writes the file (not
// stdout) and one line saying so; its extension picks the format.
func TestCatalogOutputFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		file  string
		first string // the file's first line
		note  string
	}{
		{[]string{"catalog", "export", "spamexperts", "--allow-admin", "192.0.2.0/28"}, "fw.nft", "#!/usr/sbin/nft -f", "wrote FILE: nftables ruleset for spamexperts, 41 of 41 requirements, admin access from 1 network, 0 warnings (0 lock-out risks)\n"},
		{[]string{"catalog", "export", "spamexperts"}, "rules.v4", "# Generated by flowaudit catalog export: spamexperts (SpamExperts Local Cloud).", "wrote FILE: iptables ruleset for spamexperts"},
		{[]string{"catalog", "export", "spamexperts"}, "rules.v6", "# Generated by flowaudit catalog export: spamexperts (SpamExperts Local Cloud).", "wrote FILE: ip6tables ruleset for spamexperts"},
		{[]string{"catalog", "export", "spamexperts", "-f", "iptables"}, "ruleset", "# Generated by flowaudit catalog export: spamexperts (SpamExperts Local Cloud).", "wrote FILE: iptables ruleset"},
		{[]string{"catalog", "show", "mailcleaner"}, "mc.json", "{", "wrote FILE: json, 27 requirements of mailcleaner\n"},
		{[]string{"catalog", "show", "mailcleaner"}, "mc.md", "| ID  ", "wrote FILE: markdown"},
		{[]string{"catalog", "show", "mailcleaner", "-f", "table"}, "mc.list", "┌──", "wrote FILE: table"},
		{[]string{"catalog", "show", "mailcleaner"}, "mc.txt", "┌──", "wrote FILE: table"},
		{[]string{"catalog", "export", "spamexperts"}, "fw.rules", "# Generated by flowaudit catalog export", "wrote FILE: iptables ruleset"},
		{[]string{"catalog", "export", "spamexperts"}, "fw.ip6tables", "# Generated by flowaudit catalog export", "wrote FILE: ip6tables ruleset"},
	} {
		file := filepath.Join(dir, tc.file)
		stdout, stderr, err := runCatalogIO(t, append(tc.args, "-o", file)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		if stdout != "" || !strings.HasPrefix(first, tc.first) || !strings.HasPrefix(stderr, "flowaudit: "+strings.Replace(tc.note, "FILE", file, 1)) {
			t.Errorf("%v -o %s: stdout %q, first line %q, stderr %q", tc.args, tc.file, stdout, first, stderr)
		}
	}
	var doc showJSON
	data, _ := os.ReadFile(filepath.Join(dir, "mc.json"))
	if err := json.Unmarshal(data, &doc); err != nil || doc.Product != "mailcleaner" {
		t.Errorf("mc.json: %v", err)
	}
	v6, _ := os.ReadFile(filepath.Join(dir, "rules.v6"))
	if !strings.Contains(string(v6), "--icmpv6-type neighbour-solicitation") {
		t.Error("rules.v6 is not the IPv6 half")
	}
	// The site file is an input: -o must not replace it.
	site := filepath.Join(dir, "site.yaml")
	writeCatalogFile(t, site, "zones: {vendor-support: [198.51.100.0/24]}\n")
	if _, _, err := runCatalogIO(t, "catalog", "export", "mailcleaner", "--site", site, "-o", site); err == nil || !strings.Contains(err.Error(), "is also an input") {
		t.Errorf("-o onto the site file: %v", err)
	}
	if data, _ := os.ReadFile(site); string(data) != "zones: {vendor-support: [198.51.100.0/24]}\n" {
		t.Error("the site file was overwritten")
	}
}
