//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/internal/labtest"
)

// sendUDP sends n datagrams from namespace ns to razorV4, cycling over
// ports from first (output drops in a dropLab), and returns how long it
// took.
func sendUDP(t testing.TB, ns string, first, ports, n int) time.Duration {
	var d time.Duration
	labtest.InNetns(t.(*testing.T), ns, func() {
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			t.Errorf("socket: %v", err)
			return
		}
		defer c.Close()
		msg := []byte("x")
		start := time.Now()
		for i := 0; i < n; i++ {
			// Dropped: the write fails with EPERM, as the rules want.
			_, _ = c.WriteTo(msg, &net.UDPAddr{IP: net.ParseIP(razorV4), Port: first + i%ports})
		}
		d = time.Since(start)
	})
	return d
}

// TestPrivilegedDropProbeEviction fills a small map: the kernel evicts
// (counted), and user space still reports what it read before.
func TestPrivilegedDropProbeEviction(t *testing.T) {
	requireRoot(t)
	l := newDropLab(t, 40)
	p, err := StartDropProbe(DropOptions{Netns: "/run/netns/" + l.gw, MaxEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sendUDP(t, l.gw, 7000, 8, 8)
	if ds, err := p.Drops(); err != nil || len(ds) == 0 {
		t.Fatalf("first read: %d records, %v", len(ds), err)
	}
	first, _ := p.Drops()
	sendUDP(t, l.gw, 7008, 24, 24)
	ds, err := p.Drops()
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	ports := map[uint16]bool{}
	for _, d := range ds {
		ports[d.Dst.Port()] = true
		if !d.Evicted {
			live++
		}
	}
	t.Logf("%d records (%d live in the kernel map), stats %+v", len(ds), live, st)
	for _, d := range first {
		if !ports[d.Dst.Port()] {
			t.Errorf("record read before eviction is gone: %v", d.Dst)
		}
	}
	if live > 8 || st.Evicted != uint64(32-live) || st.MapFull != 0 || st.Recorded != 32 {
		t.Errorf("live %d, stats %+v: want at most 8 live, %d evicted, 32 recorded", live, st, 32-live)
	}
}

// TestDropProbeRate measures what the probe costs (FLOWAUDIT_BENCH=N:
// N thousand dropped datagrams per run; docs/local-drops.md): send rate
// of dropped datagrams without the probe, with it watching another
// namespace, and watching this one (one key, then 1000 keys); and the
// program's own run time from the kernel's BPF statistics.
func TestDropProbeRate(t *testing.T) {
	k, _ := strconv.Atoi(os.Getenv("FLOWAUDIT_BENCH"))
	if k <= 0 {
		t.Skip("set FLOWAUDIT_BENCH=N to measure (N thousand datagrams per run)")
	}
	requireRoot(t)
	n := k * 1000
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		t.Fatalf("enable BPF statistics: %v", err)
	}
	defer stats.Close()
	l, other := newDropLab(t, 50), newDropLab(t, 60)
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	t.Logf("no probe:                      %8.0f drops/s", rate(sendUDP(t, l.gw, 7000, 1, n)))
	for _, c := range []struct {
		name  string
		netns string
		ports int
	}{{"probe on another namespace:    ", other.gw, 1}, {"probe, 1 key:                  ", l.gw, 1},
		{"probe, 1000 keys:              ", l.gw, 1000}} {
		p, err := StartDropProbe(DropOptions{Netns: "/run/netns/" + c.netns})
		if err != nil {
			t.Fatal(err)
		}
		d := sendUDP(t, l.gw, 7000, c.ports, n)
		ps, err := p.objs.DropKfreeSkb.Stats()
		if err != nil {
			t.Fatal(err)
		}
		st, _ := p.Stats()
		p.Close()
		t.Logf("%s %8.0f drops/s; program ran %d times, %.0f ns each; recorded %d", c.name, rate(d), ps.RunCount,
			float64(ps.Runtime.Nanoseconds())/float64(max(ps.RunCount, 1)), st.Recorded)
	}
}
