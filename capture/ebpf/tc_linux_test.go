//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture/decode"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// runKernel feeds frames to the TC program with BPF_PROG_TEST_RUN and
// returns the flows the kernel map then holds, converted as Start does.
// The objects are loaded once (the verifier takes most of a second) and
// emptied between runs.
func runKernel(t *testing.T, o *tcObjects, frames [][]byte) []flow.Flow {
	t.Helper()
	resetMaps(t, o)
	for i, f := range frames {
		ret, err := o.Ingress.Run(&ebpf.RunOptions{Data: f})
		if err != nil {
			t.Fatalf("frame %d: test run: %v", i, err)
		}
		if int32(ret) != -1 {
			t.Fatalf("frame %d: program returned %d, want TC_ACT_UNSPEC (-1)", i, int32(ret))
		}
	}
	mir := testSource(nil, nil).mirror
	if err := mir.refresh(o.Flows, 0); err != nil {
		t.Fatal(err)
	}
	var out []flow.Flow
	for _, e := range mir.m {
		out = append(out, toFlow(&e.key, &e.val, clock{}))
	}
	sortFlows(out)
	return out
}

func loadForTest(t *testing.T) *tcObjects {
	t.Helper()
	o, err := loadTC(64, false)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(o.Close)
	return o
}

// resetMaps empties the flow map and zeroes the counters.
func resetMaps(t *testing.T, o *tcObjects) {
	t.Helper()
	var k flowFlowKey
	var keys []flowFlowKey
	it := o.Flows.Iterate()
	var v flowFlowVal
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	for i := range keys {
		if err := o.Flows.Delete(&keys[i]); err != nil {
			t.Fatalf("reset flows: %v", err)
		}
	}
	zero := make([]uint64, ebpf.MustPossibleCPU())
	for i := uint32(0); i < uint32(flowCounterCNT_MAX); i++ {
		if err := o.Counters.Put(i, zero); err != nil {
			t.Fatalf("reset counters: %v", err)
		}
	}
}

// runTable feeds the same frames through the user-space decoder and Table.
func runTable(t *testing.T, frames [][]byte) []flow.Flow {
	t.Helper()
	d := decode.NewDecoder()
	tb := flow.NewTable(flow.Config{})
	for i, f := range frames {
		p := decode.Packet{TS: int64(i+1) * 1e6, WireLen: len(f)}
		if err := d.Decode(f, layers.LinkTypeEthernet, &p); err != nil {
			t.Fatalf("frame %d: decode: %v", i, err)
		}
		tb.Add(&p)
	}
	tb.Flush()
	out := tb.TakeFinished()
	sortFlows(out)
	return out
}

func sortFlows(fs []flow.Flow) {
	sort.Slice(fs, func(i, j int) bool {
		return fmt.Sprint(fs[i].Proto, fs[i].Orig, fs[i].Resp) < fmt.Sprint(fs[j].Proto, fs[j].Orig, fs[j].Resp)
	})
}

type parityCase struct {
	name   string
	frames func(t *testing.T) [][]byte
	// want is the labtest.Verdict every backend must reach for the first flow
	// (sorted by proto, orig, resp).
	wantOutcome flow.Outcome
	wantState   flow.ConnState
	wantOrig    string
	wantICMP    string
	// stateGap marks a case where flow.Summary.State (aggregated flags)
	// and the Table's per-packet state machine are known to differ; the
	// outcome must still agree.
	stateGap bool
}

func parityCases() []parityCase {
	const c4, s4 = "192.0.2.10:40000", "198.51.100.25:25"
	const c6, s6 = "[2001:db8::10]:40001", "[2001:db8:1::25]:443"
	return []parityCase{
		{name: "tcp handshake data close", wantOutcome: flow.Established, wantState: flow.StateSF, wantOrig: c4,
			frames: func(t *testing.T) [][]byte {
				return [][]byte{
					tcp(t, c4, s4, "S", 100, 0, nil, 0),
					tcp(t, s4, c4, "SA", 900, 101, nil, 0),
					tcp(t, c4, s4, "A", 101, 901, nil, 0),
					tcp(t, s4, c4, "PA", 901, 101, []byte("220 mx ESMTP\r\n"), 0),
					tcp(t, c4, s4, "PA", 101, 915, []byte("QUIT\r\n"), 0),
					tcp(t, c4, s4, "FA", 107, 915, nil, 0),
					tcp(t, s4, c4, "FA", 915, 108, nil, 0),
					tcp(t, c4, s4, "A", 108, 916, nil, 0),
				}
			}},
		{name: "tcp vlan tagged", wantOutcome: flow.Established, wantState: flow.StateS1, wantOrig: c4,
			frames: func(t *testing.T) [][]byte {
				return [][]byte{
					tcp(t, c4, s4, "S", 100, 0, nil, 42),
					tcp(t, s4, c4, "SA", 900, 101, nil, 42),
					tcp(t, c4, s4, "A", 101, 901, nil, 42),
				}
			}},
		{name: "tcp rst", wantOutcome: flow.Rejected, wantState: flow.StateREJ, wantOrig: c4,
			frames: func(t *testing.T) [][]byte {
				return [][]byte{
					tcp(t, c4, s4, "S", 100, 0, nil, 0),
					tcp(t, s4, c4, "RA", 0, 101, nil, 0),
				}
			}},
		{name: "tcp unanswered retries", wantOutcome: flow.Unanswered, wantState: flow.StateS0, wantOrig: c6,
			frames: func(t *testing.T) [][]byte {
				return [][]byte{
					tcp(t, c6, s6, "S", 100, 0, nil, 0),
					tcp(t, c6, s6, "S", 100, 0, nil, 0),
					tcp(t, c6, s6, "S", 100, 0, nil, 0),
				}
			}},
		{name: "tcp missed syn", wantOutcome: flow.Established, wantState: flow.StateOTH, wantOrig: c4, stateGap: true,
			frames: func(t *testing.T) [][]byte {
				return [][]byte{
					tcp(t, s4, c4, "SA", 900, 101, nil, 0),
					tcp(t, c4, s4, "A", 101, 901, nil, 0),
				}
			}},
		{name: "icmp admin prohibited v4", wantOutcome: flow.Unreachable, wantState: flow.StateS0, wantOrig: c4,
			wantICMP: "v4 3/13 admin-prohibited from 203.0.113.1",
			frames: func(t *testing.T) [][]byte {
				syn := tcp(t, c4, s4, "S", 100, 0, nil, 0)
				return [][]byte{syn, icmpUnreach(t, "203.0.113.1", syn, 13)}
			}},
		{name: "icmpv6 admin prohibited", wantOutcome: flow.Unreachable, wantState: flow.StateS0, wantOrig: c6,
			wantICMP: "v6 1/1 admin-prohibited from 2001:db8:ff::1",
			frames: func(t *testing.T) [][]byte {
				syn := tcp(t, c6, s6, "S", 100, 0, nil, 0)
				return [][]byte{syn, icmpUnreach(t, "2001:db8:ff::1", syn, 1)}
			}},
		{name: "udp port unreachable", wantOutcome: flow.Unreachable, wantState: flow.StateS0, wantOrig: "192.0.2.10:5353",
			wantICMP: "v4 3/3 port-unreachable from 198.51.100.53",
			frames: func(t *testing.T) [][]byte {
				q := udp(t, "192.0.2.10:5353", "198.51.100.53:53", []byte("query"))
				return [][]byte{q, icmpUnreach(t, "198.51.100.53", q, 3)}
			}},
		{name: "udp answered", wantOutcome: flow.Established, wantState: flow.StateSF, wantOrig: "192.0.2.10:41000",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{
					udp(t, "192.0.2.10:41000", "198.51.100.53:53", []byte("q1")),
					udp(t, "192.0.2.10:41000", "198.51.100.53:53", []byte("q2")),
					udp(t, "198.51.100.53:53", "192.0.2.10:41000", dnsAnswer(t, "mx.example.net", "198.51.100.25")),
				}
			}},
		{name: "udp unanswered", wantOutcome: flow.Unanswered, wantState: flow.StateS0, wantOrig: "[2001:db8::10]:41001",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{udp(t, "[2001:db8::10]:41001", "[2001:db8:1::1]:2703", []byte("x"))}
			}},
		{name: "udp answer first (server port heuristic)", wantOutcome: flow.Established, wantState: flow.StateSHR, wantOrig: "192.0.2.10:41002",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{udp(t, "198.51.100.53:53", "192.0.2.10:41002", []byte("late answer"))}
			}},
		{name: "icmp echo v4", wantOutcome: flow.Established, wantState: flow.StateOTH, wantOrig: "192.0.2.10:8",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{echo(t, "192.0.2.10", "198.51.100.1", 77, false), echo(t, "198.51.100.1", "192.0.2.10", 77, true)}
			}},
		{name: "icmp echo v6 unanswered", wantOutcome: flow.Unanswered, wantState: flow.StateOTH, wantOrig: "[2001:db8::10]:128",
			frames: func(t *testing.T) [][]byte {
				return [][]byte{echo(t, "2001:db8::10", "2001:db8:1::1", 78, false)}
			}},
	}
}

// TestPrivilegedTCParity runs canned frames through the TC program
// (BPF_PROG_TEST_RUN) and through the user-space decoder and Table, and
// requires the same flows, counts and verdicts from both, and the expected
// outcome.
func TestPrivilegedTCParity(t *testing.T) {
	requireRoot(t)
	o := loadForTest(t)
	for _, tc := range parityCases() {
		t.Run(tc.name, func(t *testing.T) {
			frames := tc.frames(t)
			kern := runKernel(t, o, frames)
			user := runTable(t, frames)
			if len(kern) != len(user) {
				t.Fatalf("kernel has %d flows, table %d:\nkernel %+v\ntable  %+v", len(kern), len(user), kern, user)
			}
			for i := range kern {
				k, u := labtest.VerdictOf(kern[i]), labtest.VerdictOf(user[i])
				if tc.stateGap {
					k.State, u.State = "", ""
				}
				if k != u {
					t.Errorf("flow %d differs:\nkernel %+v\ntable  %+v", i, k, u)
				}
			}
			k := labtest.VerdictOf(kern[0])
			if k.Outcome != tc.wantOutcome || k.State != tc.wantState || k.Orig != tc.wantOrig || k.ICMP != tc.wantICMP {
				t.Errorf("kernel labtest.Verdict %+v, want outcome %s state %s orig %s icmp %q",
					k, tc.wantOutcome, tc.wantState, tc.wantOrig, tc.wantICMP)
			}
		})
	}
}

// TestPrivilegedTimeoutRestart checks that a packet after the flow's idle
// timeout starts a new flow on the same entry, and that the mirror delivers
// the earlier flow as finished (not evicted), as the Table splits flows,
// once, and keeps only the flow in the map.
func TestPrivilegedTimeoutRestart(t *testing.T) {
	requireRoot(t)
	saved := flowConfig.TimeoutUdp
	flowConfig.TimeoutUdp = 1 // nanosecond: every packet after the first restarts
	t.Cleanup(func() { flowConfig.TimeoutUdp = saved })
	o := loadForTest(t)
	var got []delivery
	mir := testSource(naming.NewCache(), &got).mirror
	for i, f := range [][]byte{
		udp(t, "192.0.2.10:41000", "198.51.100.9:2703", []byte("a")),
		udp(t, "192.0.2.10:41000", "198.51.100.9:2703", []byte("b")),
	} {
		if _, err := o.Ingress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if err := mir.refresh(o.Flows, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The ring buffer is not read here: the earlier flow waits one refresh
	// for its final record, then goes as last read.
	if err := mir.refresh(o.Flows, 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(mir.m) != 1 {
		t.Fatalf("%d earlier flows delivered, %d current: want 1 and 1", len(got), len(mir.m))
	}
	if got[0].how != endFinished || got[0].k.val.Pkts[dirLo] != 1 {
		t.Errorf("earlier flow: ended %d, pkts %v", got[0].how, got[0].k.val.Pkts)
	}
	c, err := readCounters(o.Counters)
	if err != nil {
		t.Fatal(err)
	}
	if c[flowCounterCNT_FLOWS_RESTARTED] != 1 || c[flowCounterCNT_FLOWS_CREATED] != 1 {
		t.Errorf("restarted %d created %d, want 1 and 1", c[flowCounterCNT_FLOWS_RESTARTED], c[flowCounterCNT_FLOWS_CREATED])
	}
}

// TestPrivilegedLRUEviction fills a small flow map past its size: every
// flow is still reported (the poller's copy), those the LRU map dropped
// are delivered marked evicted when they leave it, the mirror keeps only
// what the map holds, and the kernel's created-minus-live count agrees.
func TestPrivilegedLRUEviction(t *testing.T) {
	requireRoot(t)
	o, err := loadTC(16, false)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var got []delivery
	mir := testSource(naming.NewCache(), &got).mirror
	const n = 64
	for i := 0; i < n; i++ {
		f := udp(t, fmt.Sprintf("192.0.2.10:%d", 30000+i), "198.51.100.53:53", []byte("q"))
		if _, err := o.Ingress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
		if err := mir.refresh(o.Flows, 0); err != nil {
			t.Fatal(err)
		}
	}
	c, err := readCounters(o.Counters)
	if err != nil {
		t.Fatal(err)
	}
	if len(mir.m) != mir.live || mir.live > 16 || len(got)+len(mir.m) != n {
		t.Fatalf("mirror holds %d flows, map %d entries (max 16), %d delivered: want all %d", len(mir.m), mir.live, len(got), n)
	}
	for _, d := range got {
		if d.how != endEvicted {
			t.Errorf("flow %s ended %d, want evicted", d.k.uid, d.how)
		}
	}
	if mir.evicted != uint64(n-mir.live) || c[flowCounterCNT_FLOWS_CREATED]-uint64(mir.live) != mir.gone {
		t.Errorf("evicted: mirror %d (gone %d), created %d - live %d", mir.evicted, mir.gone, c[flowCounterCNT_FLOWS_CREATED], mir.live)
	}
	if c[flowCounterCNT_INSERT_FAIL] != 0 {
		t.Errorf("insert failures %d: an LRU map evicts instead", c[flowCounterCNT_INSERT_FAIL])
	}
}

// TestPrivilegedAttemptDelay: after an unanswered SYN older than
// tcp_attempt_delay, a non-SYN from the originator starts a new flow and
// the attempt is delivered as a finished flow, as the Table splits them.
func TestPrivilegedAttemptDelay(t *testing.T) {
	requireRoot(t)
	saved := flowConfig.AttemptDelay
	flowConfig.AttemptDelay = 1 // nanosecond
	t.Cleanup(func() { flowConfig.AttemptDelay = saved })
	o := loadForTest(t)
	var got []delivery
	mir := testSource(naming.NewCache(), &got).mirror
	const c, s = "192.0.2.10:40000", "198.51.100.25:25"
	for i, f := range [][]byte{tcp(t, c, s, "S", 1, 0, nil, 0), tcp(t, c, s, "A", 2, 1, nil, 0)} {
		if _, err := o.Ingress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if err := mir.refresh(o.Flows, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := mir.refresh(o.Flows, 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].how != endFinished {
		t.Fatalf("earlier attempt: %d delivered, want 1 finished (%+v)", len(got), got)
	}
	if f := toFlow(&got[0].k.key, &got[0].k.val, clock{}); f.Outcome != flow.Unanswered || f.Attempts != 1 {
		t.Errorf("attempt: %s attempts %d", f.Outcome, f.Attempts)
	}
}

// TestPrivilegedReuseBetweenPolls: a TCP connection that opens, closes and
// is reused (fresh SYN on the same ports) between two polls of the map is
// still reported exactly: the kernel hands the finished flow over through
// the ring buffer when it reuses the entry.
func TestPrivilegedReuseBetweenPolls(t *testing.T) {
	requireRoot(t)
	o := loadForTest(t)
	rd, err := ringbuf.NewReader(o.Payloads)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	const c, s = "192.0.2.10:40000", "198.51.100.25:25"
	frames := [][]byte{
		tcp(t, c, s, "S", 100, 0, nil, 0),
		tcp(t, s, c, "SA", 900, 101, nil, 0),
		tcp(t, c, s, "A", 101, 901, nil, 0),
		tcp(t, c, s, "FA", 101, 901, nil, 0),
		tcp(t, s, c, "FA", 901, 102, nil, 0),
		tcp(t, c, s, "A", 102, 902, nil, 0),
		tcp(t, c, s, "S", 5000, 0, nil, 0), // reuse: a new connection
	}
	for i, f := range frames {
		if _, err := o.Ingress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	var got []delivery
	live := testSource(naming.NewCache(), &got)
	rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		rec, err := rd.Read()
		if err != nil {
			break
		}
		live.payload(rec.RawSample)
	}
	if err := live.mirror.refresh(o.Flows, 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(live.mirror.m) != 1 {
		t.Fatalf("%d finished and %d current flows, want 1 and 1", len(got), len(live.mirror.m))
	}
	old := got[0]
	f := toFlow(&old.k.key, &old.k.val, clock{})
	if old.how != endFinished || f.OrigPkts != 4 || f.RespPkts != 2 || f.State != flow.StateSF || f.Outcome != flow.Established {
		t.Errorf("first connection: ended %d, %d/%d packets, %s %s", old.how, f.OrigPkts, f.RespPkts, f.State, f.Outcome)
	}
	for _, e := range live.mirror.m {
		if g := toFlow(&e.key, &e.val, clock{}); g.OrigPkts != 1 || g.State != flow.StateS0 {
			t.Errorf("second connection: %d packets, %s", g.OrigPkts, g.State)
		}
	}
}
