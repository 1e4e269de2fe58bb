//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// lookupBatch is how many map entries one BPF_MAP_LOOKUP_BATCH call reads.
const lookupBatch = 4096

// kernelFlow is the last copy of one kernel flow read from the map.
type kernelFlow struct {
	key flowFlowKey
	val flowFlowVal
	uid string
	seq uint64 // UID number: order among flows starting together
	// gen is the refresh that last saw the flow in the kernel map.
	gen uint64
	// evicted: the flow vanished from the LRU map (or was replaced by a
	// newer flow on the same key) before the capture stopped.
	evicted bool
	// finished: the kernel restarted the entry for a new flow after this
	// one timed out or closed, as the Table finishes flows.
	finished bool
	// serverName is the flow's TLS/HTTP name, kept when it leaves t.m.
	serverName string
	// retired: the flow left t.m for old.
	retired bool
}

// oldKey identifies a flow that left the map: its key and first packet.
type oldKey struct {
	key   flowFlowKey
	first uint64
}

// mirror mirrors the kernel flow map in user space, so flows the LRU map
// evicts are still reported, as last read, with Flow.Evicted set.
type mirror struct {
	m     map[flowFlowKey]*kernelFlow
	old   []*kernelFlow          // flows no longer in the map: finished or evicted
	oldIx map[oldKey]*kernelFlow // index of old
	names map[flowFlowKey]string // server names from TLS/HTTP payloads
	gen   uint64
	next  uint64 // UID counter
	live  int    // entries in the kernel map at the last refresh
	keys  []flowFlowKey
	vals  []flowFlowVal
}

func newMirror() *mirror {
	return &mirror{m: make(map[flowFlowKey]*kernelFlow), names: make(map[flowFlowKey]string), oldIx: make(map[oldKey]*kernelFlow),
		keys: make([]flowFlowKey, lookupBatch), vals: make([]flowFlowVal, lookupBatch)}
}

// refresh reads the whole kernel map and merges it.
func (t *mirror) refresh(m *ebpf.Map) error {
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
	for _, e := range t.m {
		if e.gen != t.gen {
			e.evicted = true
		}
	}
	return nil
}

// merge records one kernel entry.
func (t *mirror) merge(k *flowFlowKey, v *flowFlowVal) {
	e := t.m[*k]
	if e != nil && e.val.FirstNs != v.FirstNs {
		// The kernel restarted the entry after the earlier flow timed out
		// or closed, or the LRU map dropped it and the key came back.
		if e.val.LastNs+timeout(&e.key, &e.val) <= v.FirstNs || closed(e.key.Proto, summary(&e.key, &e.val, dirLo)) ||
			attemptEnded(&e.key, &e.val, v) {
			e.finished, e.evicted = true, false
		} else {
			e.evicted = true
		}
		t.retire(e)
		e = nil
	}
	if e == nil {
		t.next++
		e = &kernelFlow{key: *k, uid: uid(t.next), seq: t.next}
		t.m[*k] = e
	}
	e.val = *v
	e.gen = t.gen
	e.evicted = false
}

// retire moves e out of the live set into old.
func (t *mirror) retire(e *kernelFlow) {
	e.retired = true
	e.serverName = t.names[e.key]
	delete(t.names, e.key)
	delete(t.m, e.key)
	t.old = append(t.old, e)
	t.oldIx[oldKey{e.key, e.val.FirstNs}] = e
}

// kernelFinished records the final state of a flow the kernel handed over
// when it reused the flow's entry: exact, even for a flow that began and
// ended between two polls.
func (t *mirror) kernelFinished(k flowFlowKey, v *flowFlowVal) {
	if e := t.m[k]; e != nil && e.val.FirstNs == v.FirstNs {
		e.val, e.finished, e.evicted = *v, true, false
		t.retire(e)
		return
	}
	if e := t.oldIx[oldKey{k, v.FirstNs}]; e != nil {
		e.val, e.finished, e.evicted = *v, true, false
		return
	}
	t.next++
	e := &kernelFlow{key: k, val: *v, uid: uid(t.next), seq: t.next, finished: true}
	t.old = append(t.old, e)
	t.oldIx[oldKey{k, v.FirstNs}] = e
}

// evictedCount is the number of flows known to have left the kernel map.
func (t *mirror) evictedCount() uint64 {
	var n uint64
	for _, e := range t.old {
		if e.evicted {
			n++
		}
	}
	for _, e := range t.m {
		if e.evicted {
			n++
		}
	}
	return n
}

// build assembles the result: every flow and the kernel's counters.
func (l *Live) build() capture.Result {
	flows := l.flows()
	st := capture.Stats{Backend: "ebpf", Iface: l.iface, Attribution: l.attribution}
	for i := range flows {
		if i == 0 || flows[i].Start.Before(st.Start) {
			st.Start = flows[i].Start
		}
		if flows[i].End.After(st.End) {
			st.End = flows[i].End
		}
	}
	st.Flows = uint64(len(flows))
	l.addCounters(&st)
	return capture.Result{Flows: flows, Stats: st}
}

// flows converts every flow of the mirror, by start, then by creation,
// with their names.
func (l *Live) flows() []flow.Flow {
	t := l.mirror
	flows := make([]flow.Flow, 0, len(t.m)+len(t.old))
	// Flows idle past their timeout at the time of the last packet are
	// finished, as the Table expires them by packet time.
	var now uint64
	for _, e := range t.m {
		now = max(now, e.val.LastNs)
	}
	// Sort the entries (pointers), not the converted flows.
	all := make([]*kernelFlow, 0, len(t.m)+len(t.old))
	all = append(all, t.old...)
	for _, e := range t.m {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *kernelFlow) int {
		if c := cmp.Compare(a.val.FirstNs, b.val.FirstNs); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, e := range all {
		flows = append(flows, l.flowOf(e, now))
	}
	return flows
}

// flowOf converts one kernel flow; now is the time of the last packet.
func (l *Live) flowOf(e *kernelFlow, now uint64) flow.Flow {
	f := toFlow(&e.key, &e.val, l.clock)
	f.UID = e.uid
	switch {
	case e.evicted:
		f.Evicted, f.Open = true, false
	case e.finished || e.val.LastNs+timeout(&e.key, &e.val) <= now:
		f.Open = false
	}
	ts := f.Start.UnixNano()
	f.OrigNames = l.names.Names(f.Orig.Addr(), ts)
	f.RespNames = l.names.Names(f.Resp.Addr(), ts)
	if e.retired {
		f.ServerName = e.serverName
	} else if len(l.mirror.names) > 0 {
		f.ServerName = l.mirror.names[e.key]
	}
	return f
}

// addCounters adds the kernel's counters to st, with a warning for each
// kind of loss they show.
func (l *Live) addCounters(st *capture.Stats) {
	t := l.mirror
	c, err := readCounters(l.tc.Counters)
	if err != nil {
		st.Warnings = append(st.Warnings, "read kernel counters: "+err.Error())
	}
	st.Packets = c[flowCounterCNT_PACKETS]
	st.Bytes = c[flowCounterCNT_BYTES]
	st.KernelDrops = c[flowCounterCNT_INSERT_FAIL] + c[flowCounterCNT_RINGBUF_DROP]
	st.Undecodable = c[flowCounterCNT_TRUNCATED]
	// Evictions: flows the kernel created minus those still in the map
	// (user space never deletes), or those seen leaving, whichever is more.
	st.Evicted = t.evictedCount()
	if created := c[flowCounterCNT_FLOWS_CREATED]; created > uint64(t.live) && created-uint64(t.live) > st.Evicted {
		st.Evicted = created - uint64(t.live)
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

// attemptEnded says whether the kernel restarted an unanswered TCP attempt
// (flow_config.attempt_delay, bpf/flow.c) rather than evicting it.
func attemptEnded(k *flowFlowKey, old, next *flowFlowVal) bool {
	const openerSYN = 2
	return k.Proto == flow.ProtoTCP && old.OpenerHow == openerSYN && old.Pkts[old.Opener^1] == 0 &&
		next.FirstNs-old.FirstNs > flowConfig.AttemptDelay
}
