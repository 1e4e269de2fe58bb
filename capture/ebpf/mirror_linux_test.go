//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// read merges entries as one read of the kernel map would return them,
// then sweeps at now (boot ns; 0: no idle check), as refresh does.
func (t *mirror) read(now uint64, entries ...entry) {
	t.gen++
	t.live = len(entries)
	for i := range entries {
		t.merge(&entries[i].k, &entries[i].v)
	}
	t.sweep(now)
}

type entry struct {
	k flowFlowKey
	v flowFlowVal
}

const sec = uint64(time.Second)

// udpEntry is a UDP flow from 192.0.2.10:port to a resolver, first seen
// at first, last packet at last (boot ns).
func udpEntry(port uint16, first, last uint64) entry {
	return entry{keyFor("192.0.2.10", port, "198.51.100.53", 53, flow.ProtoUDP),
		flowFlowVal{FirstNs: first, LastNs: last, Pkts: [2]uint64{1, 1}}}
}

// endings lists the deliveries by UID with how they ended.
func endings(got []delivery) map[string]ending {
	m := map[string]ending{}
	for _, d := range got {
		m[d.k.uid] = d.how
	}
	return m
}

// TestMirrorDeliversOnce walks the ways a kernel flow ends, with the
// mirror fed as the map and the ring buffer would feed it: each flow is
// delivered once, at once (or at the next read when its final record may
// still come), and the mirror keeps only what the map holds.
func TestMirrorDeliversOnce(t *testing.T) {
	dns := uint64(flow.DefaultDNSTimeout)
	t.Run("idle past its timeout, then restarted", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		a := udpEntry(40000, sec, sec)
		m.read(2*sec, a)
		if len(got) != 0 {
			t.Fatalf("delivered before its timeout: %+v", got)
		}
		m.read(sec+dns, a) // idle for the DNS timeout: finished, kept in the map as delivered
		if len(got) != 1 || got[0].how != endFinished || len(m.m) != 1 {
			t.Fatalf("deliveries %+v, mirror %d", got, len(m.m))
		}
		// A packet restarts the entry: the kernel hands over the old flow
		// (swallowed: delivered already) and the map holds the new one.
		m.kernelFinished(a.k, &a.v)
		b := udpEntry(40000, 2*dns, 2*dns)
		m.read(2*dns+sec, b)
		m.read(2*dns+sec, b)
		if len(got) != 1 || len(m.m) != 1 || m.next != 2 {
			t.Errorf("deliveries %+v, mirror %d, flows %d: want 1, 1, 2", got, len(m.m), m.next)
		}
	})
	t.Run("replaced before its record came", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		a := udpEntry(40001, sec, sec)
		m.read(0, a)
		final := a.v
		final.Pkts = [2]uint64{2, 2}
		b := udpEntry(40001, sec+dns, sec+dns)
		m.read(0, b) // the map holds a new flow: the old one waits for its record
		if len(got) != 0 || len(m.retiring) != 1 {
			t.Fatalf("deliveries %+v, retiring %d", got, len(m.retiring))
		}
		m.kernelFinished(a.k, &final)
		if len(got) != 1 || got[0].how != endFinished || got[0].k.val.Pkts[0] != 2 {
			t.Fatalf("deliveries %+v: want the final record", got)
		}
		m.read(0, b)
		if len(got) != 1 || len(m.retiring) != 0 {
			t.Errorf("deliveries %+v, retiring %d", got, len(m.retiring))
		}
	})
	t.Run("replaced, record late", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		a := udpEntry(40008, sec, sec)
		m.read(0, a)
		b := udpEntry(40008, sec+dns, sec+dns)
		m.read(0, b)
		m.read(0, b) // no record yet: delivered as last read
		if len(got) != 1 || got[0].how != endFinished {
			t.Fatalf("deliveries %+v", got)
		}
		m.kernelFinished(a.k, &a.v) // behind a backlog in the ring buffer
		for range tombstoneReads + 2 {
			m.read(0, b)
		}
		if len(got) != 1 || len(m.retiring) != 0 || len(m.m) != 1 {
			t.Errorf("deliveries %+v, retiring %d, mirror %d: the late record made a flow", got, len(m.retiring), len(m.m))
		}
	})
	t.Run("replaced, no record: evicted by the LRU map", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		a := udpEntry(40002, sec, sec)
		m.read(0, a)
		m.read(0, udpEntry(40002, 2*sec, 2*sec)) // too soon for a timeout: the key came back
		for range tombstoneReads + 2 {
			m.read(0, udpEntry(40002, 2*sec, 2*sec))
		}
		if len(m.retiring) != 0 || len(got) != 1 || got[0].how != endEvicted || m.evicted != 1 || m.gone != 1 {
			t.Errorf("deliveries %+v, evicted %d, gone %d", got, m.evicted, m.gone)
		}
	})
	t.Run("gone from the map", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		m.read(0, udpEntry(40003, sec, sec), udpEntry(40004, sec, sec))
		m.read(0, udpEntry(40004, sec, sec))
		if len(got) != 1 || got[0].how != endEvicted || len(m.m) != 1 {
			t.Errorf("deliveries %+v, mirror %d", got, len(m.m))
		}
	})
	t.Run("ended between two reads", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		a := udpEntry(40005, sec, sec)
		m.setName(a.k, sec, "mx.example.net")
		m.kernelFinished(a.k, &a.v)
		if len(got) != 1 || got[0].how != endFinished || got[0].k.serverName != "mx.example.net" || len(m.names) != 0 {
			t.Errorf("deliveries %+v, names left %d", got, len(m.names))
		}
	})
	t.Run("stopped", func(t *testing.T) {
		var got []delivery
		m := testSource(naming.NewCache(), &got).mirror
		m.read(0, udpEntry(40007, 2*sec, 2*sec), udpEntry(40006, sec, sec))
		m.read(sec+dns, udpEntry(40006, sec, sec), udpEntry(40007, 2*sec, 2*sec)) // 40006 idled out
		m.stop()
		e := endings(got)
		if len(got) != 2 || e[uid(2)] != endFinished || e[uid(1)] != endStopped || len(m.m) != 0 {
			t.Errorf("deliveries %+v", got)
		}
	})
}

// TestMirrorBounded: a stream of short flows through a small map leaves
// the mirror no bigger than the map, whatever the number of flows.
func TestMirrorBounded(t *testing.T) {
	const size = 16
	delivered := 0
	m := newMirror(size, func(*kernelFlow, ending) { delivered++ })
	var inMap []entry
	for i := range 10000 {
		e := udpEntry(uint16(20000+i), uint64(i+1)*sec, uint64(i+1)*sec)
		inMap = append(inMap, e)
		if len(inMap) > size {
			inMap = inMap[1:] // the LRU map drops the oldest
		}
		m.setName(e.k, e.v.FirstNs, "x.example.net")
		m.read(uint64(i+1)*sec, inMap...)
		if len(m.m)+len(m.retiring) > size || len(m.names) > size {
			t.Fatalf("after %d flows the mirror holds %d flows, %d retiring, %d names (map %d)", i+1, len(m.m), len(m.retiring), len(m.names), size)
		}
	}
	m.stop()
	if delivered != 10000 {
		t.Errorf("%d flows delivered, want 10000", delivered)
	}
}
