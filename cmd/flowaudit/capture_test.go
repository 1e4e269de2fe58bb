package main

import (
	"bytes"
	"context"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestCaptureErrors checks the one-line errors capture gives before it
// opens anything (no privilege needed).
func TestCaptureErrors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("capture needs Linux (TestCaptureNeedsLinux)")
	}
	missingDir := filepath.Join(t.TempDir(), "nope", "r.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no iface", []string{"capture", "-p", "mailcleaner"}, "no interface given"},
		{"missing iface", []string{"capture", "--iface", "eth9x", "-p", "mailcleaner"}, "capture on eth9x: no such interface"},
		{"no product", []string{"capture", "--iface", "lo"}, "no product given"},
		{"bad backend", []string{"capture", "--iface", "lo", "-p", "mailcleaner", "--backend", "pcap"}, `--backend "pcap": want auto, afpacket or ebpf`},
		{"bad format", []string{"capture", "--iface", "lo", "-p", "mailcleaner", "-f", "xml"}, `unknown report format "xml"`},
		{"output dir", []string{"capture", "--iface", "lo", "-p", "mailcleaner", "-o", missingDir}, "--output " + missingDir + ": directory"},
		{"session dir", []string{"capture", "--iface", "lo", "-p", "mailcleaner", "--session", missingDir}, "--session " + missingDir},
		{"args", []string{"capture", "--iface", "lo", "-p", "mailcleaner", "extra"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

// TestCaptureNeedsLinux: elsewhere, capture says in one line that it
// needs Linux, before looking at anything else.
func TestCaptureNeedsLinux(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("capture runs here (TestCaptureErrors)")
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"capture", "--iface", "eth9x", "-p", "mailcleaner"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "needs Linux") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line saying capture needs Linux", err)
	}
}

func TestSessionHosts(t *testing.T) {
	a1, a2 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	iface := capture.HostsDecision{Addrs: []netip.Addr{a1}, Origin: capture.OriginInterface, Iface: "gw0"}
	tests := []struct {
		name string
		opts analyze.Options
		want []netip.Addr
		how  string
	}{
		{"interface", analyze.Options{Gateway: iface}, []netip.Addr{a1}, "interface gw0 addresses"},
		{"--host", analyze.Options{Hosts: []netip.Addr{a1}}, []netip.Addr{a1}, "--host"},
		{"site", analyze.Options{Site: &catalog.Site{Hosts: []netip.Addr{a2}}, SiteFile: "site.yaml"}, []netip.Addr{a2}, "site file site.yaml"},
		{"--host beats site", analyze.Options{Hosts: []netip.Addr{a1}, Site: &catalog.Site{Hosts: []netip.Addr{a2}}}, []netip.Addr{a1}, "--host"},
		{"none", analyze.Options{}, nil, ""},
	}
	for _, tc := range tests {
		got := sessionHosts(tc.opts)
		if how := analyze.HostsHow(&got, analyze.HowShort); !slices.Equal(got.Addrs, tc.want) || how != tc.how {
			t.Errorf("%s: %v %q, want %v %q", tc.name, got.Addrs, how, tc.want, tc.how)
		}
	}
}
