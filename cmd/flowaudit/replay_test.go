package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"go.yaml.in/yaml/v3"

	"github.com/flowaudit/flowaudit/analyze"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/replay")

// testCatalog is a one-product user catalog: SMTP in and out.
const testCatalog = `product: testmail
title: Test mail gateway
document: test.txt
features:
  - name: clients
    default: false
    description: mail clients submit on 587
rows:
  - name: smtp
    direction: both
    protocol: tcp
    ports: [25]
    peers: [any]
    service: SMTP
    purpose: mail in and out
    source:
      text: "TCP/25 in and out"
  - name: submission
    direction: in
    protocol: tcp
    ports: [587]
    peers: [any]
    service: SMTP submission
    purpose: mail from clients
    condition: clients
    source:
      text: "TCP/587 from clients"
`

// tcpHandshake returns SYN, SYN-ACK, ACK between two endpoints.
type seg struct {
	src, dst      string
	sport, dport  uint16
	syn, ack, rst bool
	seq, ackn     uint32
}

func handshake(c string, cp uint16, s string, sp uint16) []seg {
	return []seg{
		{src: c, dst: s, sport: cp, dport: sp, syn: true, seq: 100},
		{src: s, dst: c, sport: sp, dport: cp, syn: true, ack: true, seq: 500, ackn: 101},
		{src: c, dst: s, sport: cp, dport: sp, ack: true, seq: 101, ackn: 501},
	}
}

// writePcap writes the segments as Ethernet/IPv4/TCP packets, 10 ms apart.
func writePcap(t *testing.T, path string, segs []seg) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for i, s := range segs {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), SYN: s.syn, ACK: s.ack, RST: s.rst,
			Seq: s.seq, Ack: s.ackn, Window: 64240}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * 10 * time.Millisecond), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture writes the test catalog and two captures into a temporary
// directory: good.pcap (SMTP in and out, both working) and bad.pcap (SMTP
// out refused by RST, and an unexpected inbound port).
func fixture(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "testmail.yaml"), []byte(testCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	gw := "192.0.2.10"
	good := append(handshake("203.0.113.5", 40000, gw, 25), handshake(gw, 40001, "198.51.100.25", 25)...)
	writePcap(t, filepath.Join(dir, "good.pcap"), good)
	bad := append(handshake("203.0.113.5", 40000, gw, 25),
		seg{src: gw, dst: "198.51.100.25", sport: 40001, dport: 25, syn: true, seq: 100},
		seg{src: "198.51.100.25", dst: gw, sport: 25, dport: 40001, rst: true, ack: true, ackn: 101},
	)
	bad = append(bad, handshake("203.0.113.9", 40002, gw, 3389)...)
	writePcap(t, filepath.Join(dir, "bad.pcap"), bad)
	return dir
}

// runCLI runs flowaudit with args and returns stdout, stderr and the error.
func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func isFindings(err error) bool {
	var f *findingsError
	return errors.As(err, &f)
}

func TestReplayExitStatus(t *testing.T) {
	dir := fixture(t)
	cat := filepath.Join(dir, "testmail.yaml")
	good, bad := filepath.Join(dir, "good.pcap"), filepath.Join(dir, "bad.pcap")
	tests := []struct {
		name     string
		args     []string
		findings bool
		summary  analyze.Summary
	}{
		{"all ok, nothing unexpected", []string{good}, false, analyze.Summary{Requirements: 3, OK: 2, NotApplicable: 1, Flows: 2, Matched: 2}},
		{"blocked and unexpected", []string{bad}, true, analyze.Summary{Requirements: 3, OK: 1, Blocked: 1, NotApplicable: 1, Unexpected: 1, UnexpectedFlows: 1, Flows: 3, Matched: 2}},
		{"--fail-on none", []string{"--fail-on", "none", bad}, false, analyze.Summary{Requirements: 3, OK: 1, Blocked: 1, NotApplicable: 1, Unexpected: 1, UnexpectedFlows: 1, Flows: 3, Matched: 2}},
		{"--fail-on unexpected only", []string{"--fail-on", "unexpected", bad}, true, analyze.Summary{Requirements: 3, OK: 1, Blocked: 1, NotApplicable: 1, Unexpected: 1, UnexpectedFlows: 1, Flows: 3, Matched: 2}},
		{"--fail-on partial", []string{"--fail-on", "partial", bad}, false, analyze.Summary{Requirements: 3, OK: 1, Blocked: 1, NotApplicable: 1, Unexpected: 1, UnexpectedFlows: 1, Flows: 3, Matched: 2}},
		{"--with turns a requirement on", []string{"--with", "clients", good}, true, analyze.Summary{Requirements: 3, OK: 2, NeverSeen: 1, Flows: 2, Matched: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"replay", "-f", "json", "--catalog", cat, "--product", "testmail", "--host", "192.0.2.10"}, tc.args...)
			out, stderr, err := runCLI(t, args...)
			if tc.findings != isFindings(err) || (!tc.findings && err != nil) {
				t.Fatalf("err %v (stderr %q), want findings=%v", err, stderr, tc.findings)
			}
			var rep analyze.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("report is not JSON: %v\n%s", err, out)
			}
			if rep.Schema != analyze.SchemaVersion || rep.Summary != tc.summary {
				t.Errorf("schema %q summary %+v, want %+v", rep.Schema, rep.Summary, tc.summary)
			}
		})
	}
}

func TestReplayUsageErrors(t *testing.T) {
	dir := fixture(t)
	cat := filepath.Join(dir, "testmail.yaml")
	good := filepath.Join(dir, "good.pcap")
	base := []string{"replay", "--catalog", cat}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"-p", "testmail"}, "no capture file"},
		{"no product", []string{good}, "no product given: use --product with one or more of"},
		{"unknown product", []string{"-p", "nosuch", good}, "nosuch"},
		{"missing capture", []string{"-p", "testmail", filepath.Join(dir, "missing.pcap")}, "missing.pcap"},
		{"not a capture", []string{"-p", "testmail", cat}, "testmail.yaml"},
		{"bad --fail-on", []string{"-p", "testmail", "--fail-on", "blocked,red", good}, `unknown status "red"`},
		{"bad --host", []string{"-p", "testmail", "--host", "gateway", good}, `--host "gateway": not an IP address`},
		{"bad --with", []string{"-p", "testmail", "--with", "clients=maybe", good}, "--with"},
		{"unknown format", []string{"-p", "testmail", "--format", "pdf", good}, `unknown report format "pdf"`},
		{"missing site file", []string{"-p", "testmail", "--site", filepath.Join(dir, "site.yaml"), good}, "site.yaml"},
		{"output directory missing", []string{"-p", "testmail", "-o", filepath.Join(dir, "no", "r.json"), good}, "r.json"},
		{"output is the capture", []string{"-p", "testmail", "-o", good, good}, "--output " + good + " is also an input"},
		{"session is the report", []string{"-p", "testmail", "-o", filepath.Join(dir, "x.json"), "--session", filepath.Join(dir, "x.json"), good}, "--output and --session name the same file"},
		{"output is a directory", []string{"-p", "testmail", "-o", dir, good}, "is a directory"},
		{"--node without --session", []string{"-p", "testmail", "--node", "gw1", good}, "--node names the gateway in a session: give --session FILE too"},
		{"negative --max-flows", []string{"-p", "testmail", "--max-flows", "-1", good}, "--max-flows -1: want a positive number"},
		{"none and a status", []string{"-p", "testmail", "--fail-on", "none,blocked", good}, `"none" cannot be combined`},
		{"--with and --without", []string{"-p", "testmail", "--with", "clients", "--without", "clients", good}, `feature "clients" is given to both --with and --without`},
		{"unknown feature", []string{"-p", "testmail", "--with", "clinets", good}, `feature "clinets": testmail has no such feature (features: clients)`},
		{"output is the catalog", []string{"-p", "testmail", "-o", cat, good}, "--output " + cat + " is also an input"},
		{"session is the catalog", []string{"-p", "testmail", "--session", cat, good}, "--session " + cat + " is also an input"},
		{"capture given twice", []string{"-p", "testmail", good, dir + "/./good.pcap"}, "capture " + dir + "/./good.pcap is given twice (also as " + good + ")"},
		{"empty --fail-on", []string{"-p", "testmail", "--fail-on", "", good}, `--fail-on "": give statuses`},
		{"feature on and off", []string{"-p", "testmail", "--with", "clients", "--with", "clients=false", good}, `feature "clients" is turned both on and off`},
		{"link-local host with zone", []string{"-p", "testmail", "--host", "fe80::1%eth0", good}, "want the gateway's unicast address"},
		{"multicast host", []string{"-p", "testmail", "--host", "224.0.0.1", good}, "want the gateway's unicast address"},
		{"control characters in --node", []string{"-p", "testmail", "--session", filepath.Join(dir, "s.json"), "--node", "a\nb", good}, "control characters are not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, append(base, tc.args...)...)
			if err == nil || isFindings(err) {
				t.Fatalf("err %v, want a usage/input error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line containing %q", msg, tc.want)
			}
			if tc.name != "output directory missing" && out != "" {
				t.Errorf("stdout not empty on error: %q", out)
			}
		})
	}
}

func TestReplayOutputFile(t *testing.T) {
	dir := fixture(t)
	args := []string{"replay", "-f", "json", "--catalog", filepath.Join(dir, "testmail.yaml"), "-p", "testmail", "--host", "192.0.2.10", filepath.Join(dir, "good.pcap")}
	stdout, _, err := runCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(outDir, "report.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	written, _, err := runCLI(t, append(args, "--output", path)...)
	if err != nil || written != "" {
		t.Fatalf("err %v, stdout %q", err, written)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != stdout {
		t.Fatalf("file differs from stdout (err %v)", err)
	}
	ents, _ := os.ReadDir(outDir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// uidField matches flow UIDs, which belong to the pipeline (their
// generator may change) and say nothing about the audit.
var uidField = regexp.MustCompile(`"uid": "[^"]*"`)

// golden compares got, UIDs masked, with testdata/replay/NAME, rewriting it
// with -update.
func golden(t *testing.T, goldenPath, got string) {
	t.Helper()
	got = uidField.ReplaceAllString(got, `"uid": "-"`)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("report differs from %s (go test -update rewrites it); got:\n%s", goldenPath, got)
	}
}

// TestReplayGoldenSynthetic pins the JSON of a small generated capture.
func TestReplayGoldenSynthetic(t *testing.T) {
	goldenPath, err := filepath.Abs(filepath.Join("testdata", "replay", "synthetic.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(fixture(t)) // relative file names keep the golden file stable
	out, _, err := runCLI(t, "replay", "-f", "json", "--catalog", "testmail.yaml", "-p", "testmail", "--host", "192.0.2.10", "bad.pcap")
	if !isFindings(err) {
		t.Fatalf("err %v, want findings", err)
	}
	golden(t, goldenPath, out)
}

// TestReplayGoldenLab pins the JSON report of every lab capture and of the
// bundled example (the analyze package checks their verdicts against the
// lab's truth). A golden file belongs to one recording: when the lab
// re-records a capture (its SHA-256 changes) the comparison is skipped
// until -update rewrites the golden file.
func TestReplayGoldenLab(t *testing.T) {
	caps, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "lab", "captures", "*.pcap"))
	caps = append(caps, filepath.Join("..", "..", "testdata", "example", "gateway.pcap"))
	products := map[string]string{"example": "mailcleaner"}
	for _, path := range caps {
		name := strings.TrimSuffix(filepath.Base(path), ".pcap")
		t.Run(name, func(t *testing.T) {
			truth, err := os.ReadFile(strings.TrimSuffix(path, ".pcap") + ".truth.yaml")
			if err != nil {
				t.Skipf("no lab capture with truth: %v", err)
			}
			var tf struct {
				Scenario string   `yaml:"scenario"`
				Product  string   `yaml:"product"`
				Gateway  []string `yaml:"gateway"`
			}
			if err := yaml.Unmarshal(truth, &tf); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := fmt.Sprintf("%x  %s\n", sha256.Sum256(data), filepath.Base(path))
			sumPath := filepath.Join("testdata", "replay", name+".sha256")
			if old, err := os.ReadFile(sumPath); !*update && (err != nil || string(old) != sum) {
				t.Fatalf("%s was recorded again since testdata/replay/%s.json was written: go test ./cmd/flowaudit -run ReplayGolden -update", path, name)
			}
			args := []string{"replay", "-f", "json", "--fail-on", "none", "-p", cmp.Or(tf.Product, products[tf.Scenario], tf.Scenario)}
			for _, g := range tf.Gateway {
				args = append(args, "--host", g)
			}
			out, stderr, err := runCLI(t, append(args, path)...)
			if err != nil {
				t.Fatalf("%v (stderr %s)", err, stderr)
			}
			golden(t, filepath.Join("testdata", "replay", name+".json"), out)
			if *update {
				if err := os.WriteFile(sumPath, []byte(sum), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestReplaySiteAndProducts: several products (repeated and comma
// separated), gateway hosts and features from a site file, --without.
func TestReplaySiteAndProducts(t *testing.T) {
	dir := fixture(t)
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("hosts: [192.0.2.10]\nfeatures: {clients: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		products int
		clients  bool
	}{
		{"site hosts and features", []string{"-p", "testmail"}, 1, true},
		{"--without overrides the site", []string{"-p", "testmail", "--without", "clients"}, 1, false},
		{"repeated and comma-separated products", []string{"-p", "testmail,mailcleaner", "-p", "spamexperts"}, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"replay", "--catalog", filepath.Join(dir, "testmail.yaml"), "--site", site, "--fail-on", "none", "-f", "json"}, tc.args...)
			out, stderr, err := runCLI(t, append(args, filepath.Join(dir, "good.pcap"))...)
			if err != nil {
				t.Fatalf("%v (stderr %s)", err, stderr)
			}
			var rep analyze.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Products) != tc.products || rep.Hosts.How != "from the site file" || rep.Features["clients"] != tc.clients {
				t.Errorf("products %+v, hosts %+v, features %v", rep.Products, rep.Hosts, rep.Features)
			}
		})
	}
}

// TestReplaySiteFeatureTypo: a site-file feature no audited product has is
// a warning on stderr, and the audit still runs.
func TestReplaySiteFeatureTypo(t *testing.T) {
	dir := fixture(t)
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("features: {clinets: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "replay", "--catalog", filepath.Join(dir, "testmail.yaml"), "-p", "testmail",
		"--site", site, "--fail-on", "none", filepath.Join(dir, "good.pcap"))
	if err != nil || out == "" {
		t.Fatalf("replay: %v", err)
	}
	want := "flowaudit: warning: site file " + site + `: feature "clinets": testmail has no such feature (features: clients): it has no effect` + "\n"
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}
