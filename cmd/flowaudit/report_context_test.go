package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/session"
)

// auditView is what two reports of the same flows audited the same way
// share, whatever the input (capture or session): everything but where
// the hosts came from, the nodes and files of the capture, the warnings
// that say so and when it was written; as indented JSON, to compare.
func auditView(t *testing.T, out string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%.300s", err, out)
	}
	drop := map[string]bool{"nodes": true, "by_node": true, "node": true, "generated": true, "capture": true,
		"how": true, "inferred": true, "warnings": true, "tool": true, "recorded": true}
	var strip func(any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if drop[k] {
					delete(x, k)
				} else {
					strip(e)
				}
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(v)
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func reportOf(t *testing.T, out string) analyze.Report {
	t.Helper()
	var rep analyze.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%.300s", err, out)
	}
	return rep
}

// TestReportV1SessionMatchesReplay: the version-1 session checked in
// (written by `replay --session` before the wire structs) gives the report
// replay gives of the capture it was made from, and the same report,
// byte for byte, as a version-2 session replay writes now.
func TestReportV1SessionMatchesReplay(t *testing.T) {
	pcap := filepath.Join("..", "..", "testdata", "example", "gateway.pcap")
	v1 := filepath.Join("..", "..", "testdata", "sessions", "v1-mailcleaner.session.json")
	v2 := filepath.Join(t.TempDir(), "v2.session.json")
	replayed, stderr, err := runCLI(t, "replay", "-p", "mailcleaner", "-f", "json", "--fail-on", "none", "--session", v2, pcap)
	if err != nil {
		t.Fatalf("replay: %v %s", err, stderr)
	}
	fromV1, stderr, err := runCLI(t, "report", "-p", "mailcleaner", "-f", "json", "--fail-on", "none", v1)
	if err != nil {
		t.Fatalf("report v1: %v %s", err, stderr)
	}
	fromV2, stderr, err := runCLI(t, "report", "-p", "mailcleaner", "-f", "json", "--fail-on", "none", v2)
	if err != nil {
		t.Fatalf("report v2: %v %s", err, stderr)
	}
	a, b, rep := auditView(t, replayed), auditView(t, fromV1), reportOf(t, fromV1)
	if len(rep.Requirements) == 0 || a != b {
		t.Errorf("report of the v1 session differs from replay's: %s", firstDiff(a, b))
	}
	// Where the hosts came from: the session, which inferred them.
	if want := "session: inferred from its own flows: 192.0.2.10 in 19 of 19 IPv4 flows, 2001:db8:a::10 in 7 of 7 IPv6 flows"; rep.Hosts.How != want || !rep.Hosts.Inferred {
		t.Errorf("hosts %+v, want %q, inferred", rep.Hosts, want)
	}
	// v1 recorded the capture file as the recorder named it. Its flows
	// carry no link layer, so its addresses were found by counting flows,
	// where v2's were found behind the gateway's MAC: the same addresses,
	// other words.
	if v2 := reportOf(t, fromV2); !strings.Contains(v2.Hosts.How, "(link layer: source MAC 0e:6c:9d:75:c9:b8)") ||
		!slices.Equal(v2.Hosts.Addrs, rep.Hosts.Addrs) {
		t.Errorf("v2 session hosts %+v: want the v1 session's addresses, found by the link layer", v2.Hosts)
	}
	if got, want := withoutHostsHow(t, normalizeFiles(fromV2)), withoutHostsHow(t, normalizeFiles(fromV1)); got != want {
		t.Errorf("reports of the v1 and the v2 session differ:\n%s\n%s", want, got)
	}
}

// withoutHostsHow is a JSON report without the words saying how its
// gateway addresses were found (hosts.how, hosts.found).
func withoutHostsHow(t *testing.T, report string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(report), &m); err != nil {
		t.Fatal(err)
	}
	if h, ok := m["hosts"].(map[string]any); ok {
		delete(h, "how")
		delete(h, "found")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalizeFiles takes out of a JSON report what differs between two runs
// of one capture named differently: the file name.
func normalizeFiles(out string) string {
	return strings.ReplaceAll(out, `"../../testdata/example/gateway.pcap"`, `"testdata/example/gateway.pcap"`)
}

// TestReportNeedsNoFlags: a session records what it was audited against,
// so `report SESSION` alone gives replay's report, with the catalog
// overlay and the site file gone from disk; the report says what it took
// from the session, a flag overrides it, and sessions recorded against
// different inputs are refused unless a flag chooses.
func TestReportNeedsNoFlags(t *testing.T) {
	dir := fixture(t)
	t.Chdir(dir)
	if err := os.WriteFile("site.yaml", []byte("zones: {clients: [203.0.113.0/24]}\nfeatures: {clients: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--catalog", "testmail.yaml", "--site", "site.yaml", "--without", "clients", "--host", "192.0.2.10"}
	replayed, stderr, err := runCLI(t, append([]string{"replay", "-f", "json", "-p", "testmail", "--session", "s1.json", "--node", "gw1", "bad.pcap"}, common...)...)
	if !isFindings(err) {
		t.Fatalf("replay: %v %s", err, stderr)
	}
	if _, stderr, err := runCLI(t, append([]string{"replay", "-p", "testmail,mailcleaner", "--session", "s2.json", "--node", "gw2", "good.pcap"}, common...)...); err != nil && !isFindings(err) {
		t.Fatalf("replay: %v %s", err, stderr)
	}
	s, err := session.Load("s1.json")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Context
	if c == nil || !slices.Equal(c.Products, []string{"testmail"}) || len(c.Catalogs) != 1 || c.Catalogs[0].Content != testCatalog ||
		c.Site == nil || c.Site.File != "site.yaml" || !c.Site.Features["clients"] || len(c.Site.Zones["clients"]) != 1 ||
		!reflect.DeepEqual(c.Features, map[string]bool{"clients": false}) {
		t.Fatalf("context recorded: %+v", c)
	}
	for _, f := range []string{"testmail.yaml", "site.yaml"} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}

	reported, stderr, err := runCLI(t, "report", "-f", "json", "s1.json")
	if !isFindings(err) {
		t.Fatalf("report: %v %s", err, stderr)
	}
	a, b, rep := auditView(t, replayed), auditView(t, reported), reportOf(t, reported)
	if a != b {
		t.Errorf("report from the session alone differs from replay's: %s", firstDiff(a, b))
	}
	if want := []string{"products", "catalog overlays", "site file", "features"}; !slices.Equal(rep.Recorded, want) {
		t.Errorf("recorded %q, want %q", rep.Recorded, want)
	}
	text, _, _ := runCLI(t, "report", "s1.json")
	if !strings.Contains(text, "Inputs:       products, catalog overlays, site file and features as the sessions recorded them") {
		t.Errorf("table report does not say what came from the session:\n%.600s", text)
	}
	// A flag wins over the record: --with turns the feature back on.
	out, _, _ := runCLI(t, "report", "-f", "json", "--with", "clients", "s1.json")
	if rep := reportOf(t, out); !rep.Features["clients"] || slices.Contains(rep.Recorded, "features") {
		t.Errorf("--with clients: features %v, recorded %q", rep.Features, rep.Recorded)
	}

	// Features recorded for products -p replaced are a warning.
	out, errOut, err := runCLI(t, "report", "-f", "json", "-p", "mailcleaner", "s1.json")
	if rep := reportOf(t, out); (err != nil && !isFindings(err)) || rep.Products[0].Name != "mailcleaner" ||
		!strings.Contains(errOut, `session s1.json: recorded feature "clients"`) || rep.Features["clients"] {
		t.Errorf("-p mailcleaner over a testmail session: %v, features %v, stderr %q", err, rep.Features, errOut)
	}

	// gw2 was recorded with other products: refused, one line naming the
	// input and the flag, unless the flag is given.
	_, _, err = runCLI(t, "report", "s1.json", "s2.json")
	want := "sessions s1.json and s2.json were recorded with different products (testmail; testmail, mailcleaner): give --product to choose"
	if err == nil || err.Error() != want {
		t.Errorf("err %v, want %q", err, want)
	}
	out, stderr, err = runCLI(t, "report", "-f", "json", "-p", "testmail", "s1.json", "s2.json")
	if err != nil && !isFindings(err) {
		t.Fatalf("report with -p: %v %s", err, stderr)
	}
	if rep := reportOf(t, out); len(rep.Products) != 1 || !slices.Equal(rep.Recorded, []string{"catalog overlays", "site file", "features"}) {
		t.Errorf("products %+v recorded %q", rep.Products, rep.Recorded)
	}
	// A session of version 1 recorded nothing: against one of version 2,
	// that differs too.
	v1 := filepath.Join(t.TempDir(), "v1.json")
	data, err := os.ReadFile(filepath.Join(testdataDir(t), "sessions", "v1-ebpf-handmade.session.json"))
	if err != nil || os.WriteFile(v1, data, 0o644) != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "report", "s1.json", v1); err == nil || !strings.Contains(err.Error(), "different products (testmail; none)") {
		t.Errorf("v2 and v1 sessions: %v", err)
	}
}

// testdataDir is the repository's testdata directory, found from the
// package's directory even after a test changed directory.
func testdataDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(pkgDir, "..", "..", "testdata")
}

// pkgDir is this package's directory, taken before any test changes it.
var pkgDir = func() string {
	d, _ := os.Getwd()
	return d
}()
