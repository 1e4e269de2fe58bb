package capture

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// funcSource is a Source that runs a function with the Emitter.
type funcSource func(e *Emitter) (Stats, error)

func (s funcSource) Run(_ context.Context, e *Emitter) (Stats, error) { return s(e) }

var (
	gw       = netip.MustParseAddr("192.0.2.10")
	resolver = netip.MustParseAddr("198.51.100.53")
	mx       = netip.MustParseAddr("203.0.113.25")
	t1       = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

// dnsMsg is the query for name (type A, id), or its answer naming addr.
func dnsMsg(t *testing.T, id uint16, name string, answer netip.Addr) []byte {
	t.Helper()
	n := dnsmessage.MustNewName(name)
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: answer.IsValid(), RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	if answer.IsValid() {
		_ = b.StartAnswers()
		_ = b.AResource(dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 300},
			dnsmessage.AResource{A: answer.As4()})
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// lookup feeds the query and the answer of one lookup to e (over TCP with
// its length prefixes when tcp is set) at ts.
func lookup(t *testing.T, e *Emitter, name string, addr netip.Addr, ts time.Time, tcp bool) {
	q, a := dnsMsg(t, 7, name, netip.Addr{}), dnsMsg(t, 7, name, addr)
	if tcp {
		q = append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
		a = append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...)
	}
	c, s := netip.AddrPortFrom(gw, 40000), netip.AddrPortFrom(resolver, 53)
	e.ObserveDNS(q, ts.UnixNano(), naming.Transport{Src: c, Dst: s, TCP: tcp})
	e.ObserveDNS(a, ts.UnixNano(), naming.Transport{Src: s, Dst: c, TCP: tcp})
}

func smtpFlow(to netip.Addr, start time.Time) flow.Flow {
	return flow.Flow{Proto: flow.ProtoTCP, Orig: netip.AddrPortFrom(gw, 41000), Resp: netip.AddrPortFrom(to, 25),
		Start: start, End: start.Add(time.Second), Outcome: flow.Established}
}

// TestEmitterNamesEveryFlow: whatever the source, a flow reaches the sink
// named with what DNS said at its start (UDP and TCP lookups alike), and
// so do the open flows a progress report lists; with NoNames nothing is
// named and no payload is looked at.
func TestEmitterNamesEveryFlow(t *testing.T) {
	other := netip.MustParseAddr("203.0.113.26")
	src := funcSource(func(e *Emitter) (Stats, error) {
		lookup(t, e, "mx.example.net.", mx, t1, false)
		lookup(t, e, "mx2.example.net.", other, t1, true)
		for _, to := range []netip.Addr{mx, other} {
			f := smtpFlow(to, t1.Add(time.Second))
			e.Flow(&f)
		}
		f := smtpFlow(mx, t1.Add(2*time.Second))
		e.Progress(Progress{Active: 1, ActiveFlows: func(yield func(*flow.Flow) bool) { yield(&f) }})
		return Stats{}, nil
	})
	for _, noNames := range []bool{false, true} {
		var got, open []string
		c := Collector{OnProgress: func(p Progress) {
			for f := range p.ActiveFlows {
				open = append(open, f.RespNames...)
			}
		}}
		if _, err := Run(context.Background(), src, &c, Options{NoNames: noNames}); err != nil {
			t.Fatal(err)
		}
		for _, f := range c.Flows {
			got = append(got, f.RespNames...)
		}
		got = append(got, open...)
		want := []string{"mx.example.net", "mx2.example.net", "mx.example.net"}
		if noNames {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("NoNames %v: names %q, want %q", noNames, got, want)
		}
	}
}

// TestEmitterServerName: a flow's first payload names its server (as
// written: the audit compares names case-insensitively), interned; nothing
// without naming.
func TestEmitterServerName(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: Updates.Example.com\r\n\r\n")
	e := NewEmitter(SinkFuncs{}, Options{})
	a, b := e.ServerName(req), e.ServerName(req)
	if a != "Updates.Example.com" || b != a || !e.Naming() {
		t.Errorf("server name %q, %q", a, b)
	}
	if e.ServerName([]byte("EHLO x\r\n")) != "" {
		t.Error("a name from a payload that names no server")
	}
	off := NewEmitter(SinkFuncs{}, Options{NoNames: true})
	if off.Naming() || off.ServerName(req) != "" {
		t.Error("a server name with naming off")
	}
}

// TestEmitterProgressPacing: Progress is due once per ProgressEvery.
func TestEmitterProgressPacing(t *testing.T) {
	e := NewEmitter(SinkFuncs{}, Options{ProgressEvery: time.Hour})
	if e.ProgressDue() {
		t.Error("due before the first interval")
	}
	e = NewEmitter(SinkFuncs{}, Options{ProgressEvery: time.Nanosecond})
	time.Sleep(time.Millisecond)
	if !e.ProgressDue() {
		t.Error("not due after the interval")
	}
}

// TestEmitterWithSink: a stage between the source and the sink sees every
// flow once, named, and hands it on; the name cache is shared.
func TestEmitterWithSink(t *testing.T) {
	var final Collector
	src := funcSource(func(e *Emitter) (Stats, error) {
		var seen int
		stage := SinkFuncs{OnFlow: func(f *flow.Flow) {
			seen++
			f.LocalDrop = &flow.LocalDrop{Hook: "output", Reason: "netfilter-drop", Packets: 1}
			e.Sink().Flow(f)
		}}
		inner := e.WithSink(stage)
		lookup(t, inner, "mx.example.net.", mx, t1, false)
		f := smtpFlow(mx, t1.Add(time.Second))
		inner.Flow(&f)
		if seen != 1 {
			t.Errorf("the stage saw %d flows", seen)
		}
		return Stats{}, nil
	})
	if _, err := Run(context.Background(), src, &final, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(final.Flows) != 1 || final.Flows[0].LocalDrop == nil || !slices.Equal(final.Flows[0].RespNames, []string{"mx.example.net"}) {
		t.Errorf("flows %+v", final.Flows)
	}
}

// TestTeeAndCollector: Tee hands each flow to every sink in order, nil
// sinks skipped; a Collector keeps copies that survive the source reusing
// its flow.
func TestTeeAndCollector(t *testing.T) {
	var order []string
	a := SinkFuncs{OnFlow: func(*flow.Flow) { order = append(order, "a") }}
	b := SinkFuncs{OnFlow: func(*flow.Flow) { order = append(order, "b") }}
	var c Collector
	sink := Tee(a, nil, b, &c)
	f := smtpFlow(mx, t1)
	f.ICMP = &flow.ICMPError{Reason: "port-unreachable"}
	f.Process = &flow.Process{PID: 1, Comm: "x"}
	sink.Flow(&f)
	f.ICMP.Reason, f.Process.Comm = "reused", "reused"
	if !slices.Equal(order, []string{"a", "b"}) {
		t.Errorf("order %v", order)
	}
	if r := c.Result(Stats{}); len(r.Flows) != 1 || r.Flows[0].ICMP.Reason != "port-unreachable" || r.Flows[0].Process.Comm != "x" {
		t.Errorf("collected %+v", r.Flows)
	}
	if r := (&Collector{}).Result(Stats{}); r.Flows == nil {
		t.Error("Result of no flows: nil, want empty")
	}
	if Tee(a) == nil {
		t.Error("Tee of one sink")
	}
}

// TestPacketsDeliverOnce: the packet path hands every flow to the sink
// exactly once (unique UIDs), however the flows end: closed, timed out,
// evicted from a full table, or still open at the end.
func TestPacketsDeliverOnce(t *testing.T) {
	base := framesOf(t, "../testdata/flows/established.pcap")
	var frames []Frame
	for i := range 300 {
		for _, f := range base {
			f.TS += int64(i) * int64(time.Second)
			frames = append(frames, f)
		}
	}
	uids := map[string]int{}
	sink := SinkFuncs{OnFlow: func(f *flow.Flow) { uids[f.UID]++ }}
	st, err := Run(context.Background(), Packets(&sliceSource{frames: frames}, PacketOptions{Table: flow.Config{MaxFlows: 8}}), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for uid, n := range uids {
		if n != 1 {
			t.Errorf("flow %s delivered %d times", uid, n)
		}
	}
	if uint64(len(uids)) != st.Flows || st.Flows == 0 {
		t.Errorf("%d flows delivered, %d counted", len(uids), st.Flows)
	}
}
