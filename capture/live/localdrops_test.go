package live

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// fakeDrops is a drop probe whose records the test sets.
type fakeDrops struct {
	ds    []capture.LocalDrop
	reads int
}

func (f *fakeDrops) Drops() ([]capture.LocalDrop, error) {
	f.reads++
	return append([]capture.LocalDrop(nil), f.ds...), nil
}

func (f *fakeDrops) Stats() (capture.LocalDropStats, error) {
	st := capture.LocalDropStats{ByReason: map[string]uint64{}}
	for _, d := range f.ds {
		st.ByReason[d.Reason] += d.Packets
		st.Recorded += d.Packets
	}
	return st, nil
}

func (f *fakeDrops) Close() error { return nil }

var (
	t0     = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	gwAddr = netip.MustParseAddr("192.0.2.10")
	peer   = netip.MustParseAddr("198.51.100.7")
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

// stageRig is a stage over a fake probe and clock, delivering into a
// Collector.
type stageRig struct {
	probe *fakeDrops
	col   capture.Collector
	st    *dropStage
	clock time.Time
}

func newRig() *stageRig {
	r := &stageRig{probe: &fakeDrops{}, clock: t0}
	e := capture.NewEmitter(&r.col, capture.Options{NoNames: true})
	r.st = newDropStage(r.probe, e, func(d capture.LocalDrop) string {
		return "table inet fw chain " + d.Direction.String() + " handle 4 (drop)"
	})
	r.st.now = func() time.Time { return r.clock }
	return r
}

func razorDrop(pkts uint64) capture.LocalDrop {
	return capture.LocalDrop{Proto: flow.ProtoTCP, Src: ap(gwAddr, 40000), Dst: ap(peer, 2703), Direction: capture.DropOutput,
		Reason: "netfilter-drop", Packets: pkts, TCPFlags: 0x02, First: t0, Last: t0.Add(time.Second),
		Process: &flow.Process{PID: 42, Comm: "razor-check"}}
}

func sshDrop() capture.LocalDrop {
	return capture.LocalDrop{Proto: flow.ProtoTCP, Src: ap(peer, 50000), Dst: ap(gwAddr, 22), Direction: capture.DropInput,
		Reason: "netfilter-drop", Packets: 3, TCPFlags: 0x02, First: t0, Last: t0.Add(3 * time.Second)}
}

func sshFlow() flow.Flow {
	return flow.Flow{UID: "C1", Proto: flow.ProtoTCP, Orig: ap(peer, 50000), Resp: ap(gwAddr, 22), Start: t0,
		End: t0.Add(3 * time.Second), OrigPkts: 3, State: flow.StateS0, Outcome: flow.Unanswered, Attempts: 3}
}

func TestDropStageInputDropClaimsFlowOnce(t *testing.T) {
	r := newRig()
	r.probe.ds = []capture.LocalDrop{sshDrop()}
	f := sshFlow()
	r.st.Flow(&f)
	if f.LocalDrop != nil {
		t.Error("the backend's flow keeps the stage's local drop after Flow")
	}
	g := sshFlow()
	g.UID = "C2"
	r.clock = r.clock.Add(2 * drainEvery)
	r.st.Flow(&g)
	if len(r.col.Flows) != 2 {
		t.Fatalf("%d flows", len(r.col.Flows))
	}
	ld := r.col.Flows[0].LocalDrop
	want := flow.LocalDrop{Hook: "input", Reason: "netfilter-drop", Packets: 3, Rule: "table inet fw chain input handle 4 (drop)"}
	if ld == nil || *ld != want {
		t.Errorf("local drop %+v, want %+v", ld, want)
	}
	if r.col.Flows[1].LocalDrop != nil {
		t.Errorf("the same drops delivered twice: %+v", r.col.Flows[1].LocalDrop)
	}
	var st capture.Stats
	r.st.finish(&st)
	if len(r.col.Flows) != 2 || st.Flows != 0 || st.LocalDrops == nil || st.LocalDrops.ByReason["netfilter-drop"] != 3 {
		t.Errorf("finish: %d flows, stats %+v", len(r.col.Flows), st)
	}
}

func TestDropStageOutputAttemptBecomesFlow(t *testing.T) {
	r := newRig()
	r.probe.ds = []capture.LocalDrop{razorDrop(2)}
	other := flow.Flow{UID: "C9", Proto: flow.ProtoTCP, Orig: ap(gwAddr, 40001), Resp: ap(peer, 25), Start: t0,
		Outcome: flow.Established}
	r.clock = t0.Add(2 * time.Second) // not settled yet
	r.st.Flow(&other)
	if len(r.col.Flows) != 1 || r.col.Flows[0].LocalDrop != nil {
		t.Fatalf("flows %+v", r.col.Flows)
	}
	// A progress report shows the attempt as an open flow.
	var open []flow.Flow
	r.st.next = capture.SinkFuncs{OnProgress: func(p capture.Progress) {
		for f := range p.ActiveFlows {
			open = append(open, *f.Clone())
		}
	}}
	r.st.Progress(capture.Progress{ActiveFlows: func(func(*flow.Flow) bool) {}})
	if len(open) != 1 || !open[0].Open || open[0].Outcome != flow.NotSent || open[0].LocalDrop == nil {
		t.Fatalf("progress open flows %+v", open)
	}
	r.st.next = &r.col
	r.probe.ds[0].Packets, r.probe.ds[0].Last = 3, t0.Add(3*time.Second) // a retransmission
	r.clock = t0.Add(3*time.Second + settleFirst)
	r.st.maybeDrain()
	if len(r.col.Flows) != 2 {
		t.Fatalf("%d flows after settling, want the attempt delivered", len(r.col.Flows))
	}
	f := r.col.Flows[1]
	want := flow.LocalDrop{Hook: "output", Reason: "netfilter-drop", Packets: 3, Rule: "table inet fw chain output handle 4 (drop)"}
	if f.Outcome != flow.NotSent || f.Open || f.Attempts != 3 || f.OrigPkts != 3 || f.RespPkts != 0 ||
		f.Orig != ap(gwAddr, 40000) || f.Resp != ap(peer, 2703) || f.Process == nil || f.Process.Comm != "razor-check" ||
		f.LocalDrop == nil || *f.LocalDrop != want || f.UID == "" || !f.Start.Equal(t0) {
		t.Errorf("synthesized flow %+v (local drop %+v)", f, f.LocalDrop)
	}
	var st capture.Stats
	r.st.finish(&st)
	if len(r.col.Flows) != 2 || st.Flows != 1 {
		t.Errorf("finish delivered again: %d flows, stats flows %d", len(r.col.Flows), st.Flows)
	}
}

func TestDropStageWhatBecomesAFlow(t *testing.T) {
	synack := razorDrop(1)
	synack.Src, synack.Dst, synack.TCPFlags = ap(gwAddr, 22), ap(peer, 50000), 0x12
	udp := capture.LocalDrop{Proto: flow.ProtoUDP, Src: ap(gwAddr, 41000), Dst: ap(peer, 6277), Direction: capture.DropOutput,
		Reason: "netfilter-drop", Packets: 1, First: t0, Last: t0}
	echo := capture.LocalDrop{Proto: flow.ProtoICMP, Src: ap(gwAddr, 8), Dst: ap(peer, 0), Direction: capture.DropOutput,
		Reason: "ip-outnoroutes", Packets: 2, First: t0, Last: t0}
	for _, c := range []struct {
		name       string
		d          capture.LocalDrop
		afterFirst bool // a flow after settleFirst
		atEnd      bool // a flow at the end
	}{
		{"tcp syn", razorDrop(1), true, true},
		{"tcp syn-ack (a reply)", synack, false, false},
		{"input drop", sshDrop(), false, false},
		{"udp waits for the captured request", udp, false, true},
		{"icmp echo", echo, true, true},
	} {
		r := newRig()
		r.probe.ds = []capture.LocalDrop{c.d}
		r.clock = c.d.Last.Add(settleFirst)
		r.st.maybeDrain()
		if got := len(r.col.Flows) == 1; got != c.afterFirst {
			t.Errorf("%s: flow after %v: %v", c.name, settleFirst, got)
		}
		var st capture.Stats
		r.st.finish(&st)
		if got := len(r.col.Flows) == 1; got != c.atEnd {
			t.Errorf("%s: flow at the end: %v (%d flows)", c.name, got, len(r.col.Flows))
		}
	}
}

// A UDP reply dropped on output goes to the request's captured flow.
func TestDropStageOutputReplyClaimsCapturedFlow(t *testing.T) {
	r := newRig()
	r.probe.ds = []capture.LocalDrop{{Proto: flow.ProtoUDP, Src: ap(gwAddr, 53), Dst: ap(peer, 33000), Direction: capture.DropOutput,
		Reason: "netfilter-drop", Packets: 1, First: t0, Last: t0}}
	f := flow.Flow{UID: "C1", Proto: flow.ProtoUDP, Orig: ap(peer, 33000), Resp: ap(gwAddr, 53), Start: t0, OrigPkts: 1,
		Outcome: flow.Unanswered}
	r.st.Flow(&f)
	var st capture.Stats
	r.st.finish(&st)
	if len(r.col.Flows) != 1 || r.col.Flows[0].LocalDrop == nil || r.col.Flows[0].LocalDrop.Hook != "output" {
		t.Errorf("flows %+v", r.col.Flows)
	}
}

// The stopping capture reads the probe once more before its last flows.
func TestDropStageFinalRead(t *testing.T) {
	r := newRig()
	f := sshFlow()
	r.st.Flow(&f) // first read: nothing yet
	r.probe.ds = []capture.LocalDrop{sshDrop()}
	r.st.final.Store(true)
	g := sshFlow()
	r.st.Flow(&g)
	if r.probe.reads != 2 || r.col.Flows[1].LocalDrop == nil {
		t.Errorf("reads %d, last flow's local drop %+v", r.probe.reads, r.col.Flows[1].LocalDrop)
	}
}

// A flow without local drops costs the stage no allocation.
func TestDropStageFlowAllocs(t *testing.T) {
	r := newRig()
	r.probe.ds = []capture.LocalDrop{sshDrop()}
	r.st.maybeDrain()
	sink := capture.SinkFuncs{OnFlow: func(*flow.Flow) {}}
	r.st.next = sink
	f := flow.Flow{Proto: flow.ProtoTCP, Orig: ap(peer, 1), Resp: ap(gwAddr, 25), Start: t0}
	if n := testing.AllocsPerRun(1000, func() { r.st.Flow(&f) }); n != 0 {
		t.Errorf("%v allocations per flow", n)
	}
}

func TestNoDropsWarning(t *testing.T) {
	err := errors.New("local drops not visible: needs root (or CAP_BPF and CAP_PERFMON): x")
	w := noDropsWarning(err.Error())
	if w != "local drops not visible: needs root (or CAP_BPF and CAP_PERFMON): x (a flow this gateway's own firewall drops "+
		"may read never-seen or unanswered; docs/local-drops.md)" {
		t.Errorf("warning %q", w)
	}
}

// Progress reports carry the probe's counters and the flows made so far.
func TestDropStageProgressStats(t *testing.T) {
	r := newRig()
	r.probe.ds = []capture.LocalDrop{razorDrop(2)}
	var got capture.Progress
	r.st.next = capture.SinkFuncs{OnProgress: func(p capture.Progress) { got = p }}
	r.clock = t0.Add(time.Second + settleFirst)
	r.st.Progress(capture.Progress{})
	if got.Stats.LocalDrops == nil || got.Stats.LocalDrops.ByReason["netfilter-drop"] != 2 || got.Stats.Flows != 1 {
		t.Errorf("progress stats %+v", got.Stats)
	}
}
