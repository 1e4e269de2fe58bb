package labtest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivilegedLab brings a lab up, records the spamexperts scenario on
// the gateway interface and checks the capture against the scenario's
// truth: every flow with its outcome, and the packet kinds a firewall
// produces (SYN retransmissions, RST, ICMP 3/13, ICMPv6 1/1). Then it
// takes the lab down and checks that no namespace is left.
func TestPrivilegedLab(t *testing.T) {
	l := Up(t)

	if err := l.Exec(Gateway, "ping", "-c1", "-W2", "198.51.100.53"); err != nil {
		t.Fatalf("gateway cannot reach the resolver through the firewall: %v", err)
	}
	out, err := l.Command(Gateway, "dig", "+short", "@198.51.100.53", "razor.example-vendor.test", "A").Output()
	if err != nil || strings.TrimSpace(string(out)) != "198.51.100.7" {
		t.Fatalf("resolver answer %q, %v; want 198.51.100.7", out, err)
	}
	if err := l.Exec("nope", "true"); err == nil {
		t.Error("Exec accepted an unknown role")
	}

	pcap := filepath.Join(t.TempDir(), "spamexperts.pcap")
	if err := l.Record("spamexperts", pcap); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTruth(TruthPath(pcap))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := CheckCapture(pcap, tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ev.Mismatches {
		t.Errorf("mismatch: %s", m)
	}
	t.Logf("evidence: %+v", *ev)
	if ev.ResetAfterHandshake != 0 {
		t.Errorf("%d established connections ended with RST", ev.ResetAfterHandshake)
	}
	if ev.Handshakes == 0 || ev.SYNRetransmitted == 0 || ev.RSTs == 0 || ev.AdminProhibited4 == 0 || ev.AdminProhibited6 == 0 {
		t.Errorf("missing packet kinds: %+v", *ev)
	}

	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{Gateway, Firewall, Internet} {
		if strings.Contains(string(list), l.NS(role)) {
			t.Errorf("namespace %s left after Down", l.NS(role))
		}
	}
}
