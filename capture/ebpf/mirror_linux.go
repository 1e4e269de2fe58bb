//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cilium/ebpf"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// lookupBatch is how many map entries one BPF_MAP_LOOKUP_BATCH call reads.
// tombstoneReads is how many more reads of the map a flow that left it
// without its final record is remembered, so that the record, should it
// come late (a backlog in the ring buffer), is not delivered as a new
// flow.
const (
	lookupBatch    = 4096
	tombstoneReads = 4
)

// ending says how a delivered flow ended.
type ending uint8

const (
	// endFinished: the kernel restarted the flow's entry for a new flow
	// (timeout, TCP reuse, a new attempt), or the flow idled past its
	// timeout: finished, as the Table finishes flows.
	endFinished ending = iota
	// endEvicted: the LRU map dropped the entry; the flow is as last read.
	endEvicted
	// endStopped: still in the map when the capture stopped; open unless
	// its connection had closed, as at the end of a replay.
	endStopped
)

// kernelFlow is user space's copy of one flow in the kernel map.
type kernelFlow struct {
	key flowFlowKey
	val flowFlowVal
	uid string
	seq uint64 // UID number: order among flows starting together
	// gen is the refresh that last saw the flow in the kernel map (for a
	// retiring flow: the refresh that saw it replaced).
	gen uint64
	// delivered: handed over already (it idled past its timeout); kept
	// only so that its entry, still in the map, is not taken for a new
	// flow, and the kernel's final record of it is not delivered again.
	delivered bool
	// restarted: (retiring) the kernel most likely restarted the entry,
	// so its final record is on its way through the ring buffer;
	// otherwise the LRU map dropped it and the key came back.
	restarted bool
	// expired: (retiring) its final record did not come in time; it was
	// delivered as last read and is kept as a tombstone.
	expired    bool
	serverName string
}

// retiredEnding is how a flow that left the map ended when its final
// record never came: finished if the kernel most likely restarted its
// entry, else evicted.
func (e *kernelFlow) retiredEnding() ending {
	if e.restarted {
		return endFinished
	}
	return endEvicted
}

// oldKey identifies a flow that left the map: its key and first packet.
type oldKey struct {
	key   flowFlowKey
	first uint64
}

// pendingName is a server name (TLS SNI, HTTP Host) whose flow the mirror
// has not read from the map yet.
type pendingName struct {
	name string
	ts   uint64 // boot ns of the payload
	gen  uint64
}

// mirror keeps user space's copy of the flows in the kernel map, and only
// those (with the few that just left it and whose final record the ring
// buffer is bringing), so its memory is bounded by the map's size however
// long the capture runs. Each flow is handed to deliver exactly once: when
// it idles past its timeout (it stays in the map, marked delivered, until
// the kernel restarts or evicts the entry), when the kernel hands over its
// final state (it ended and the entry was reused), when it leaves the map
// (LRU eviction: as last read, marked evicted), or when the capture stops.
// It is used from one goroutine.
type mirror struct {
	m        map[flowFlowKey]*kernelFlow
	retiring map[oldKey]*kernelFlow
	names    map[flowFlowKey]pendingName
	// limit bounds names (the kernel map's size).
	limit   int
	deliver func(*kernelFlow, ending)
	gen     uint64
	next    uint64 // UID counter: flows known so far
	live    int    // entries in the kernel map at the last refresh
	// first and last are the boot times of the earliest and latest
	// packets seen in any flow.
	first, last uint64
	// evicted counts flows delivered as evicted; gone counts entries
	// seen in the map that the LRU map dropped, delivered or not (to tell
	// evictions never seen from the kernel's created-minus-live count).
	evicted, gone uint64
	keys          []flowFlowKey
	vals          []flowFlowVal
}

// newMirror returns an empty mirror of a kernel map of size entries,
// handing flows to deliver.
func newMirror(size int, deliver func(*kernelFlow, ending)) *mirror {
	return &mirror{m: make(map[flowFlowKey]*kernelFlow), retiring: make(map[oldKey]*kernelFlow),
		names: make(map[flowFlowKey]pendingName), limit: size, deliver: deliver,
		keys: make([]flowFlowKey, lookupBatch), vals: make([]flowFlowVal, lookupBatch)}
}

// refresh reads the whole kernel map, merges it, and delivers the flows
// that left it or idled past their timeout at now (boot ns, taken before
// the read: a flow idle then is final, since any later packet restarts
// its entry; 0 skips the idle check). On a read error nothing is
// delivered for entries the read did not reach.
func (t *mirror) refresh(m *ebpf.Map, now uint64) error {
	t.gen++
	t.live = 0
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookup(&cursor, t.keys, t.vals, nil)
		for i := 0; i < n; i++ {
			t.merge(&t.keys[i], &t.vals[i])
		}
		t.live += n
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("batch lookup: %w", err)
		}
	}
	t.sweep(now)
	return nil
}

// sweep delivers what the refresh just completed found gone or idle.
func (t *mirror) sweep(now uint64) {
	for k, e := range t.m {
		if e.gen != t.gen {
			// Gone from the map: user space never deletes, so the LRU
			// map evicted it.
			t.gone++
			delete(t.m, k)
			t.end(e, endEvicted)
		}
	}
	for k, e := range t.retiring {
		switch {
		case !e.expired && e.gen < t.gen:
			// Replaced at an earlier refresh and no final record came: an
			// LRU eviction (or a record lost from the full ring buffer,
			// counted apart, or still in it behind a backlog). Delivered
			// as last read, and kept a little longer so that a late
			// record is not taken for a new flow.
			e.expired = true
			t.gone++
			t.end(e, e.retiredEnding())
		case e.expired && e.gen+tombstoneReads < t.gen:
			delete(t.retiring, k)
		}
	}
	if now > 0 {
		for _, e := range t.m {
			if !e.delivered && e.val.LastNs+timeout(&e.key, &e.val) <= now {
				t.end(e, endFinished)
			}
		}
	}
	for k, p := range t.names {
		if p.gen+2 < t.gen {
			delete(t.names, k) // its flow never reached the map
		}
	}
}

// end delivers e unless it was delivered already.
func (t *mirror) end(e *kernelFlow, how ending) {
	if e.delivered {
		return
	}
	e.delivered = true
	if how == endEvicted {
		t.evicted++
	}
	t.deliver(e, how)
}

// merge records one kernel entry.
func (t *mirror) merge(k *flowFlowKey, v *flowFlowVal) {
	t.seen(v)
	e := t.m[*k]
	if e != nil && e.val.FirstNs != v.FirstNs {
		// A new flow holds the entry. The kernel restarted it after the
		// earlier flow timed out or closed (its final record is in the
		// ring buffer), or the LRU map dropped it and the key came back.
		// Either way the earlier flow waits one refresh for that record,
		// which is exact.
		e.restarted = e.val.LastNs+timeout(&e.key, &e.val) <= v.FirstNs ||
			closed(e.key.Proto, summary(&e.key, &e.val, dirLo)) || attemptEnded(&e.key, &e.val, v)
		e.gen = t.gen
		t.retiring[oldKey{e.key, e.val.FirstNs}] = e
		delete(t.m, *k)
		e = nil
	}
	if e == nil {
		e = t.newFlow(*k, v)
		t.m[*k] = e
	}
	if !e.delivered {
		e.val = *v
	}
	e.gen = t.gen
}

// newFlow starts the copy of a flow first seen with v, with the server
// name its payload gave, if any.
func (t *mirror) newFlow(k flowFlowKey, v *flowFlowVal) *kernelFlow {
	t.next++
	e := &kernelFlow{key: k, val: *v, uid: uid(t.next), seq: t.next}
	if p, ok := t.names[k]; ok && p.ts >= v.FirstNs {
		e.serverName = p.name
		delete(t.names, k)
	}
	return e
}

// seen widens the capture's first and last packet times to v's.
func (t *mirror) seen(v *flowFlowVal) {
	if v.FirstNs != 0 && (t.first == 0 || v.FirstNs < t.first) {
		t.first = v.FirstNs
	}
	t.last = max(t.last, v.LastNs)
}

// kernelFinished takes the final state of a flow the kernel handed over
// when it reused the flow's entry: exact, even for a flow that began and
// ended between two refreshes.
func (t *mirror) kernelFinished(k flowFlowKey, v *flowFlowVal) {
	t.seen(v)
	ok := oldKey{k, v.FirstNs}
	if e := t.retiring[ok]; e != nil {
		delete(t.retiring, ok)
		if !e.delivered {
			e.val = *v
		}
		t.end(e, endFinished) // nothing for a tombstone: delivered already
		return
	}
	if e := t.m[k]; e != nil && e.val.FirstNs == v.FirstNs {
		// The entry now holds a new flow: the next refresh finds it.
		delete(t.m, k)
		if !e.delivered {
			e.val = *v
		}
		t.end(e, endFinished)
		return
	}
	t.end(t.newFlow(k, v), endFinished)
}

// setName records the server name a flow's first payload gave (ts: the
// payload's boot time): on the flow in the map when it has none yet, else
// for the flow the next refresh finds on that key.
func (t *mirror) setName(k flowFlowKey, ts uint64, name string) {
	if e := t.m[k]; e != nil && !e.delivered && e.serverName == "" && ts >= e.val.FirstNs {
		e.serverName = name
		return
	}
	if _, ok := t.names[k]; !ok && len(t.names) < t.limit {
		t.names[k] = pendingName{name: name, ts: ts, gen: t.gen}
	}
}

// stop delivers every flow not delivered yet, as the capture stops: those
// still in the map by start, then those that were retiring.
func (t *mirror) stop() {
	var open []*kernelFlow
	for _, e := range t.m {
		if !e.delivered {
			open = append(open, e)
		}
	}
	slices.SortFunc(open, func(a, b *kernelFlow) int {
		if c := cmp.Compare(a.val.FirstNs, b.val.FirstNs); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, e := range open {
		t.end(e, endStopped)
	}
	for k, e := range t.retiring {
		delete(t.retiring, k)
		if !e.expired && !e.restarted {
			t.gone++
		}
		t.end(e, e.retiredEnding())
	}
	clear(t.m)
}

// active yields the flows in the map not delivered yet.
func (t *mirror) active(yield func(*kernelFlow) bool) {
	for _, e := range t.m {
		if !e.delivered && !yield(e) {
			return
		}
	}
}

// activeCount is the number of flows active yields.
func (t *mirror) activeCount() int {
	n := 0
	for range t.active {
		n++
	}
	return n
}

// attemptEnded says whether the kernel restarted an unanswered TCP attempt
// (flow_config.attempt_delay, bpf/flow.c) rather than evicting it.
func attemptEnded(k *flowFlowKey, old, next *flowFlowVal) bool {
	const openerSYN = 2
	return k.Proto == flow.ProtoTCP && old.OpenerHow == openerSYN && old.Pkts[old.Opener^1] == 0 &&
		next.FirstNs-old.FirstNs > flowConfig.AttemptDelay
}

// stats are the capture's statistics so far: the kernel's counters, with
// a warning for each kind of loss they show, and the mirror's.
func (s *Source) stats() capture.Stats {
	t := s.mirror
	st := capture.Stats{Backend: "ebpf", Iface: s.iface, Attribution: s.attribution, Flows: t.next}
	if t.first != 0 {
		st.Start, st.End = s.clock.wall(t.first), s.clock.wall(t.last)
	}
	if !s.started.IsZero() { // a Source never run has no window
		st.SetWindow(s.started, time.Now())
	}
	c, err := readCounters(s.tc.Counters)
	if err != nil {
		st.Warnings = append(st.Warnings, "read kernel counters: "+err.Error())
	}
	st.Packets = c[flowCounterCNT_PACKETS]
	st.Bytes = c[flowCounterCNT_BYTES]
	st.KernelDrops = c[flowCounterCNT_INSERT_FAIL] + c[flowCounterCNT_RINGBUF_DROP]
	st.Undecodable = c[flowCounterCNT_TRUNCATED]
	// Evictions: the flows delivered as evicted, and the entries the LRU
	// map dropped before a refresh could see them: entries created minus
	// those in the map (user space never deletes) minus those seen leaving.
	st.Evicted = t.evicted
	if left := c[flowCounterCNT_FLOWS_CREATED] - min(c[flowCounterCNT_FLOWS_CREATED], uint64(t.live)); left > t.gone {
		st.Evicted += left - t.gone
	}
	if n := c[flowCounterCNT_INSERT_FAIL]; n > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d packets not accounted: kernel flow map insert failed", n))
	}
	if n := c[flowCounterCNT_RINGBUF_DROP]; n > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d ring-buffer records lost (naming payloads or finished flows): buffer full", n))
	}
	if n := c[flowCounterCNT_FRAGMENTS]; n > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d non-first IP fragments not accounted (no ports)", n))
	}
	if st.Evicted > 0 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d flows evicted from the kernel map (raise --max-flows)", st.Evicted))
	}
	return st
}

// readCounters sums the per-CPU counters.
func readCounters(m *ebpf.Map) ([flowCounterCNT_MAX]uint64, error) {
	var out [flowCounterCNT_MAX]uint64
	var per []uint64
	for i := range out {
		if err := m.Lookup(uint32(i), &per); err != nil {
			return out, fmt.Errorf("counter %d: %w", i, err)
		}
		for _, v := range per {
			out[i] += v
		}
	}
	return out, nil
}
