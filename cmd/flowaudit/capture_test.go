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
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
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

// TestLiveViewSnapshot: on a redraw the live view refreshes the gateway
// addresses and shows the verdicts of a Snapshot, in which the open flows
// count as if they finished now, drawn by its display goroutine.
func TestLiveViewSnapshot(t *testing.T) {
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	mc, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	aud, err := analyze.NewAuditor(analyze.Options{Products: []*catalog.Product{mc}, Hosts: []netip.Addr{netip.MustParseAddr("192.0.2.10")}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	refreshed := 0
	v := newLiveView(newProgress(&out, "gw0", false, time.Unix(0, 0)), aud, func() { refreshed++ })
	v.nextDraw = time.Time{} // a redraw is due
	open := flow.Flow{Proto: flow.ProtoTCP, Orig: netip.MustParseAddrPort("192.0.2.10:40000"),
		Resp: netip.MustParseAddrPort("203.0.113.25:25"), Start: time.Unix(100, 0), End: time.Unix(101, 0),
		Outcome: flow.Established, OrigPkts: 3, RespPkts: 2, Open: true}
	v.Progress(capture.Progress{Stats: capture.Stats{Packets: 5, Flows: 1, End: time.Unix(101, 0)}, Active: 1,
		ActiveFlows: func(yield func(*flow.Flow) bool) { yield(&open) }})
	v.Progress(capture.Progress{}) // not due: nothing drawn
	v.finish()
	line := out.String()
	if refreshed != 2 || strings.Count(line, "\n") != 1 || !strings.Contains(line, "5 packets, 1 flows") || !strings.Contains(line, "| 27 requirements: 1 ok,") {
		t.Errorf("refreshed %d times, drew %q", refreshed, line)
	}
}
