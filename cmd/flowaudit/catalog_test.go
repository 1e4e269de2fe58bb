package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The -update flag may be declared by another test file of this package;
// declare it only if nobody did, so the files do not collide.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// runCatalog runs flowaudit with args and returns stdout.
func runCatalog(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "catalog", name)
	if updatingGolden() {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -run %s -update to accept):\n%s", file, t.Name(), firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + a + "\ngot:  " + b
		}
	}
	return ""
}

var catalogProducts = []string{"clearswift-seg", "mailcleaner", "securitygateway", "spamexperts"}

func TestCatalogShowGolden(t *testing.T) {
	for _, p := range catalogProducts {
		for format, ext := range map[string]string{"table": "txt", "json": "json", "markdown": "md"} {
			t.Run(p+"/"+format, func(t *testing.T) {
				out, err := runCatalog(t, "catalog", "show", p, "--format", format)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, p+"."+ext, out)
			})
		}
	}
}

func TestCatalogListGolden(t *testing.T) {
	out, err := runCatalog(t, "catalog", "list")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "list.txt", out)
}

// TestCatalogShowJSONContract pins the shape other tools read: exactly
// these keys, ports as [[lo, hi], ...], source as {document, text}.
func TestCatalogShowJSONContract(t *testing.T) {
	out, err := runCatalog(t, "catalog", "show", "spamexperts", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if got := keys(doc); got != "product requirements" {
		t.Fatalf("top-level keys = %s", got)
	}
	var reqs []map[string]json.RawMessage
	if err := json.Unmarshal(doc["requirements"], &reqs); err != nil {
		t.Fatal(err)
	}
	if len(reqs) == 0 {
		t.Fatal("no requirements")
	}
	const want = "condition direction id notes peers ports protocol purpose service source"
	sawRange, sawICMP := false, false
	for _, r := range reqs {
		if got := keys(r); got != want {
			t.Fatalf("requirement keys = %s, want %s", got, want)
		}
		var ports [][]int
		if err := json.Unmarshal(r["ports"], &ports); err != nil {
			t.Fatalf("ports %s: %v", r["ports"], err)
		}
		for _, pr := range ports {
			if len(pr) != 2 || pr[0] > pr[1] {
				t.Fatalf("port range %v", pr)
			}
			sawRange = sawRange || pr[0] != pr[1]
		}
		sawICMP = sawICMP || (string(r["protocol"]) == `"icmp"` && string(r["ports"]) == "[]")
		var src map[string]json.RawMessage
		if err := json.Unmarshal(r["source"], &src); err != nil || keys(src) != "document text" {
			t.Fatalf("source %s", r["source"])
		}
	}
	if !sawRange || !sawICMP {
		t.Errorf("spamexperts should show a port range (%v) and ICMP with ports [] (%v)", sawRange, sawICMP)
	}
}

func keys[V any](m map[string]V) string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return strings.Join(k, " ")
}

func TestCatalogErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"catalog", "show", "mailclean"}, `unknown product "mailclean" (known: clearswift-seg, mailcleaner, securitygateway, spamexperts)`},
		{[]string{"catalog", "show", "mailcleaner", "--format", "xml"}, `unknown format "xml"`},
		{[]string{"catalog", "export", "mailcleaner", "--format", "pf"}, `catalog export: unknown format "pf" (want nftables|iptables|ip6tables)`},
		{[]string{"catalog", "export", "mailcleaner", "--format", "iptables", "-o", "x.nft"}, "catalog export: -o x.nft: the extension .nft means nftables, but -f is iptables: drop -f, or give a file ending in .v4 or .rules or .iptables"},
		{[]string{"catalog", "show", "mailcleaner", "--format", "json", "-o", "x.md"}, "catalog show: -o x.md: the extension .md means markdown, but -f is json: drop -f, or give a file ending in .json"},
		{[]string{"catalog", "export", "mailcleaner", "--allow-admin", "192.0.2.5/24"}, `--allow-admin "192.0.2.5/24": prefix has host bits set (did you mean 192.0.2.0/24?)`},
		{[]string{"catalog", "export", "mailcleaner", "--allow-admin", "admins"}, `--allow-admin "admins": not an IP address or CIDR prefix`},
		{[]string{"catalog", "export", "mailcleaner", "--allow-admin", "::/0"}, `--allow-admin "::/0": that is every address: give the management network`},
		{[]string{"catalog", "validate", "--site"}, "flag needs an argument: --site"},
		{[]string{"catalog", "export", "mailcleaner", "--format", "nftables", "--with", "clustre"}, `feature "clustre": mailcleaner has no such feature (features: cluster, premium-support)`},
		{[]string{"catalog", "export", "spamexperts", "--format", "nftables", "--with", "x"}, `feature "x": spamexperts has no optional features`},
		{[]string{"catalog", "export", "mailcleaner", "-f", "nftables", "--with", "cluster", "--without", "cluster"}, `feature "cluster" is given to both --with and --without`},
		{[]string{"catalog", "export", "mailcleaner", "-f", "nftables", "--with", "cluster=maybe"}, `--with "cluster=maybe": want FEATURE or FEATURE=true|false`},
		{[]string{"catalog"}, "catalog: give a subcommand: list, show, validate or export"},
		{[]string{"catalog", "shw"}, `catalog: unknown subcommand "shw"`},
		{[]string{"catalog", "show"}, "catalog show: give a PRODUCT (flowaudit catalog list shows them)"},
		{[]string{"catalog", "show", "a", "b"}, "catalog show: one PRODUCT at a time (got 2 arguments)"},
		{[]string{"catalog", "export", "-f", "nftables"}, "catalog export: give a PRODUCT"},
		{[]string{"catalog", "validate"}, "catalog validate: give a FILE (a catalog or site file; --site FILE or --catalog FILE say which)"},
		{[]string{"catalog", "validate", "testdata/catalog/does-not-exist.yaml"}, "does-not-exist.yaml"},
		{[]string{"catalog", "list", "--catalog", "testdata/catalog/does-not-exist.yaml"}, "does-not-exist.yaml"},
	}
	for _, tc := range cases {
		_, err := runCatalog(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestCatalogValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeCatalogFile(t, good, "product: mine\ndocument: policy.txt\nrows:\n  - {name: smtp, direction: both, protocol: tcp, ports: [25], peers: [any], source: {text: \"4.1 mail\"}}\n")
	out, err := runCatalog(t, "catalog", "validate", good)
	if err != nil || out != good+": ok: catalog file: product mine, 2 requirements, 0 features\n" {
		t.Errorf("validate good: %q, %v", out, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeCatalogFile(t, bad, "product: mine\ndocument: policy.txt\nrows:\n  - {name: smtp, direction: in, protocol: tcp, ports: [\"30-20\"], peers: [any], source: {text: x}}\n  - {name: dns, direction: out, protocol: tcp, peers: [any], source: {text: y}}\n")
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"catalog", "validate", bad}, &stdout, &stderr)
	want := bad + ":4: rows[0].ports[0]: reversed range \"30-20\": the first port must not be above the second\n" +
		bad + ":5: rows[1].ports: missing: tcp needs ports\n"
	if err == nil || err.Error() != bad+": 2 problems (listed above)" || stderr.String() != want {
		t.Errorf("validate bad: error %v, stderr\n%s\nwant\n%s", err, stderr.String(), want)
	}
}

func TestCatalogValidateSite(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "site.yaml")
	writeCatalogFile(t, good, "hosts: [192.0.2.10]\nzones: {dns-servers: [192.0.2.53], clients: [198.51.100.0/24]}\nfeatures: {cluster: true}\n")
	out, err := runCatalog(t, "catalog", "validate", "--site", good)
	if err != nil || out != good+": ok: site file: 1 host, 2 zones, 1 feature\n" {
		t.Errorf("validate --site good: %q, %v", out, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeCatalogFile(t, bad, "hosts: [192.0.2.10]\nzones:\n  clients: [198.51.100.0/33]\n")
	_, err = runCatalog(t, "catalog", "validate", "--site", bad)
	if err == nil || err.Error() != bad+`:3: zones.clients[0]: "198.51.100.0/33": not an IP address or CIDR prefix` {
		t.Errorf("validate --site bad: %v", err)
	}
}

// TestCatalogOverlayFlag: --catalog files replace and extend the bundled
// products for list, show and export alike.
func TestCatalogOverlayFlag(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "local.yaml")
	writeCatalogFile(t, f, "product: mailcleaner\ndocument: local-policy.txt\nrows:\n  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [zone:upstream-relay], service: SMTP, purpose: from our relay only, source: {text: \"4.2\"}}\n  - {name: submission, direction: in, protocol: tcp, ports: [587], peers: [zone:clients], service: SMTP, purpose: submission, source: {text: \"4.3\"}}\n")
	out, err := runCatalog(t, "catalog", "show", "mailcleaner", "--format", "json", "--catalog", f)
	if err != nil {
		t.Fatal(err)
	}
	var doc showJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, r := range doc.Requirements {
		ids[r.ID] = r.Source.Document
	}
	if ids["mailcleaner/in-tcp-25-smtp"] != "local-policy.txt" || ids["mailcleaner/in-tcp-587-submission"] != "local-policy.txt" || ids["mailcleaner/out-tcp-2703-razor"] == "" {
		t.Errorf("overlay not applied: %v", ids)
	}
	out, err = runCatalog(t, "catalog", "export", "mailcleaner", "--format", "nftables", "--catalog", f)
	if err != nil || !strings.Contains(out, `ip saddr @zone_upstream_relay_v4 tcp dport 25 accept comment "mailcleaner/in-tcp-25-smtp"`) {
		t.Errorf("export ignores the overlay: %v\n%s", err, out)
	}
}

func TestCatalogExport(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site.yaml")
	writeCatalogFile(t, site, "zones:\n  cluster-peers: [192.0.2.11, 192.0.2.12]\nfeatures: {premium-support: true}\n")
	out, err := runCatalog(t, "catalog", "export", "mailcleaner", "--format", "nftables", "--with", "cluster", "--site", site)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"elements = { 192.0.2.11, 192.0.2.12 }",
		`ip saddr @zone_cluster_peers_v4 tcp dport 3306 accept comment "mailcleaner/in-tcp-3306-cluster-db"`,
		`ip daddr @zone_cluster_peers_v4 udp dport 161 accept comment "mailcleaner/out-udp-161-cluster-snmp"`,
		`accept comment "mailcleaner/in-tcp-22-premium-ssh"`,
		"#   cluster              on (given)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q", want)
		}
	}
	out, err = runCatalog(t, "catalog", "export", "mailcleaner", "--format", "nftables", "--site", site, "--without", "premium-support")
	if err != nil || strings.Contains(out, `accept comment "mailcleaner/in-tcp-22-premium-ssh"`) {
		t.Errorf("--without does not override the site file: %v", err)
	}
}

// TestPrivilegedCatalogExportNFT has nft check the exported rulesets of
// every product with every feature on (nft -c needs CAP_NET_ADMIN).
func TestPrivilegedCatalogExportNFT(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	nft, err := exec.LookPath("nft")
	switch {
	case err != nil && ci:
		t.Fatalf("nft not installed: %v", err)
	case err != nil:
		t.Skipf("nft not installed: %v", err)
	case os.Geteuid() != 0 && ci:
		t.Fatal("not root: nft -c needs CAP_NET_ADMIN")
	case os.Geteuid() != 0:
		t.Skip("not root: nft -c needs CAP_NET_ADMIN")
	}
	withAll := map[string][]string{
		"mailcleaner":     {"cluster", "premium-support"},
		"clearswift-seg":  {"ftp-backup", "lexical-data", "pmm", "pmm-full-mode", "snmp", "ldap", "key-server", "kaspersky-ksn", "syslog", "cluster"},
		"securitygateway": {"client-submission", "domain-submission", "deliver-587", "remote-pop", "minger", "ldap", "mdaemon-xml-api", "microsoft-365", "ai-classification", "letsencrypt"},
		"spamexperts":     nil,
	}
	for _, p := range catalogProducts {
		args := []string{"catalog", "export", p, "--format", "nftables"}
		for _, f := range withAll[p] {
			args = append(args, "--with", f)
		}
		out, err := runCatalog(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), p+".nft")
		writeCatalogFile(t, file, out)
		if msg, err := exec.Command(nft, "-c", "-f", file).CombinedOutput(); err != nil {
			t.Errorf("%s: nft -c -f: %v\n%s", p, err, msg)
		}
	}
}

func writeCatalogFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCatalogHostileFiles: rows 2, 5 and 9 of issue 10 through the
// commands. A key with a newline and ESC is one problem on one line, and
// "(and N more)" counts problems, not lines; a title that would add a
// table to the nftables export is refused by validate and export alike;
// overlays past the catalog's bound are refused naming the file.
func TestCatalogHostileFiles(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.yaml")
	writeCatalogFile(t, key, "product: mine\ndocument: d\n\"a\\nb\\e[2J\": 1\nrows:\n  - {name: smtp, direction: sideways, protocol: tcp, ports: [25], peers: [any], source: {text: t}}\n")
	_, err := runCatalog(t, "catalog", "list", "--catalog", key)
	want := key + `:3: a\nb\x1b[2J: key has control character \x0a at character 2: control characters, bidi controls and line breaks are not allowed (and 1 more; flowaudit catalog validate ` + key + " lists them all)"
	if err == nil || err.Error() != want {
		t.Errorf("list --catalog: %v\nwant %s", err, want)
	}
	_, stderr, err := runCLI(t, "catalog", "validate", key)
	if err == nil || err.Error() != key+": 2 problems (listed above)" || strings.Count(stderr, "\n") != 2 || strings.ContainsRune(stderr, 0x1b) {
		t.Errorf("validate: %v, stderr %q", err, stderr)
	}

	title := filepath.Join(dir, "title.yaml")
	writeCatalogFile(t, title, "product: demo\ntitle: \"Demo\\ntable ip evil {\\n}\\n#\"\ndocument: d\nrows:\n  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [any], source: {text: t}}\n")
	wantTitle := title + `:2: title: value has control character \x0a at character 5: control characters, bidi controls and line breaks are not allowed`
	if _, err := runCatalog(t, "catalog", "validate", title); err == nil || err.Error() != wantTitle {
		t.Errorf("validate: %v\nwant %s", err, wantTitle)
	}
	out, err := runCatalog(t, "catalog", "export", "demo", "--format", "nftables", "--catalog", title)
	if err == nil || out != "" {
		t.Errorf("export: %v, wrote %q", err, out)
	}

	var files []string
	for i := range 6 {
		f := filepath.Join(dir, fmt.Sprintf("big%d.yaml", i))
		var b strings.Builder
		fmt.Fprintf(&b, "product: big%d\ndocument: d\nrows:\n", i)
		for r := range 2 {
			fmt.Fprintf(&b, "  - {name: r%d, direction: both, protocol: [tcp, udp], ports: [%s], peers: [any], source: {text: t}}\n", r, portList(250))
		}
		writeCatalogFile(t, f, b.String())
		files = append(files, "--catalog", f)
	}
	_, err = runCatalog(t, append([]string{"catalog", "list"}, files...)...)
	wantSize := filepath.Join(dir, "big4.yaml") + ": the catalog has 10173 requirements, at most 10000 in all"
	if err == nil || err.Error() != wantSize {
		t.Errorf("six big overlays: %v\nwant %s", err, wantSize)
	}
}

// portList is "1,2,...,n".
func portList(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(s, ",")
}
