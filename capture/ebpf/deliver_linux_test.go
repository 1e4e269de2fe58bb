//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"net"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// TestPrivilegedDeliveredOnce runs a live capture with a short UDP timeout
// and a small flow map: flows that idle out are delivered while the
// capture runs (not kept until the end), a packet after that starts a new
// flow without delivering the old one again, flows the full map evicts are
// delivered marked evicted, and no flow is delivered twice.
func TestPrivilegedDeliveredOnce(t *testing.T) {
	requireRoot(t)
	saved := flowConfig.TimeoutUdp
	flowConfig.TimeoutUdp = uint64(300 * time.Millisecond)
	t.Cleanup(func() { flowConfig.TimeoutUdp = saved })
	p := labtest.NewVethPair(t)
	var live *labtest.Live
	var err error
	labtest.InNetns(t, p.Client, func() {
		var src *Source
		if src, err = Open(capture.LiveOptions{Iface: p.Dev, MaxFlows: 64}); err == nil {
			live = labtest.RunLive(src)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	send := func(ports ...int) {
		labtest.InNetns(t, p.Client, func() {
			for _, port := range ports {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(labtest.VethClientV4), Port: port})
				if err != nil {
					t.Error(err)
					return
				}
				c.WriteToUDP([]byte("x"), &net.UDPAddr{IP: net.ParseIP(labtest.VethServerV4), Port: 9})
				c.Close()
			}
		})
	}
	ports := []int{41001, 41002, 41003, 41004, 41005}
	send(ports...)
	time.Sleep(1500 * time.Millisecond) // idle past the timeout, and a poll
	if n := countTo(live.Delivered(), 9); n != len(ports) {
		t.Errorf("%d flows delivered while the capture runs, want the %d idle ones", n, len(ports))
	}
	send(ports...) // new flows on the same entries
	// A poll must see them before the burst: 200 new flows evict a 64-entry
	// LRU map's oldest entries in the kernel, and an entry evicted before any
	// poll saw it is counted as evicted, not delivered.
	time.Sleep(1500 * time.Millisecond)
	burst := make([]int, 200)
	for i := range burst {
		burst[i] = 42000 + i
	}
	send(burst...) // more flows than the map holds
	time.Sleep(1200 * time.Millisecond)
	res, err := live.Stop()
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	starts := map[string]bool{}
	for _, f := range res.Flows {
		k := f.Orig.String() + ">" + f.Resp.String() + "@" + f.Start.String()
		if uids[f.UID] || starts[k] {
			t.Errorf("flow %s %s delivered twice", f.UID, k)
		}
		uids[f.UID], starts[k] = true, true
	}
	if uint64(len(res.Flows)) != res.Stats.Flows {
		t.Errorf("%d flows delivered, stats count %d", len(res.Flows), res.Stats.Flows)
	}
	perPort := map[uint16]int{}
	for _, f := range res.Flows {
		perPort[f.Orig.Port()]++
	}
	for _, port := range ports {
		if perPort[uint16(port)] != 2 {
			t.Errorf("port %d: %d flows, want 2 (before and after the timeout)", port, perPort[uint16(port)])
		}
	}
	if res.Stats.Evicted == 0 {
		t.Errorf("no eviction from a 64-entry map after 200 new flows: %+v", res.Stats)
	}
	t.Logf("%d flows, %d evicted", len(res.Flows), res.Stats.Evicted)
}

// countTo counts the flows to port.
func countTo(flows []flow.Flow, port uint16) int {
	n := 0
	for _, f := range flows {
		if f.Resp.Port() == port {
			n++
		}
	}
	return n
}
