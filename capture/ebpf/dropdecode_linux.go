//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Values of drop_key.dir and drop_val.proc_how (bpf/drop.h).
const (
	dropDirInput  = 1
	dropDirOutput = 2
	dropProcNone  = 0
)

// toLocalDrop converts one kernel record, naming its reason from r.
func toLocalDrop(k *dropprobeDropKey, v *dropprobeDropVal, r *DropReasons, c clock) capture.LocalDrop {
	src, dst := netip.AddrFrom16(k.Saddr), netip.AddrFrom16(k.Daddr)
	if k.Version == 4 {
		src, dst = src.Unmap(), dst.Unmap()
	}
	d := capture.LocalDrop{
		Proto:   k.Proto,
		Src:     netip.AddrPortFrom(src, k.Sport),
		Dst:     netip.AddrPortFrom(dst, k.Dport),
		Reason:  r.Name(k.Reason),
		Packets: v.Packets,
		Bytes:   v.Bytes,
		First:   c.wall(v.FirstNs),
		Last:    c.wall(v.LastNs),
		Ifindex: int(v.Ifindex),
	}
	switch k.Dir {
	case dropDirInput:
		d.Direction = capture.DropInput
	case dropDirOutput:
		d.Direction = capture.DropOutput
	}
	if k.Proto == flow.ProtoTCP {
		d.TCPFlags = uint8(v.TcpFlags)
	}
	if d.Direction == capture.DropOutput {
		d.CgroupID = v.CgroupId
		if v.ProcHow != dropProcNone && v.Pid != 0 {
			d.Process = &flow.Process{PID: v.Pid, Comm: cString(v.Comm[:])}
		}
	}
	return d
}

// dropEntry is user space's copy of one kernel entry.
type dropEntry struct {
	key     dropprobeDropKey
	val     dropprobeDropVal // as last read
	base    dropprobeDropVal // summed counts of earlier, evicted entries of this key
	gen     uint64           // refresh that last saw it in the kernel map
	evicted bool
}

// dropTable keeps every record read from the kernel map, so that entries
// the LRU map evicts are still reported (as last read). It holds at most
// max entries: beyond that the evicted ones dropped longest ago go.
type dropTable struct {
	m         map[dropprobeDropKey]*dropEntry
	gen       uint64
	live      int // entries in the kernel map at the last refresh
	max       int
	forgotten uint64
	keys      []dropprobeDropKey
	vals      []dropprobeDropVal
}

func newDropTable(max int) *dropTable {
	return &dropTable{m: map[dropprobeDropKey]*dropEntry{}, max: max,
		keys: make([]dropprobeDropKey, lookupBatch), vals: make([]dropprobeDropVal, lookupBatch)}
}

// refresh reads the whole kernel map and merges it.
func (t *dropTable) refresh(m *ebpf.Map) error {
	t.begin()
	defer t.end()
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookup(&cursor, t.keys, t.vals, nil)
		for i := 0; i < n; i++ {
			t.merge(&t.keys[i], &t.vals[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("batch lookup: %w", err)
		}
	}
	return nil
}

// begin starts a pass over the kernel map.
func (t *dropTable) begin() {
	t.gen++
	t.live = 0
}

// end closes a pass: entries it did not see were evicted.
func (t *dropTable) end() {
	for _, e := range t.m {
		e.evicted = e.gen != t.gen
	}
	t.trim()
}

// merge records one kernel entry. An entry whose first time changed was
// evicted and made again: the earlier one's counts are kept in base.
func (t *dropTable) merge(k *dropprobeDropKey, v *dropprobeDropVal) {
	e := t.m[*k]
	if e == nil {
		e = &dropEntry{key: *k}
		t.m[*k] = e
	} else if e.val.FirstNs != v.FirstNs {
		e.base.Packets += e.val.Packets
		e.base.Bytes += e.val.Bytes
		e.base.TcpFlags |= e.val.TcpFlags
		if e.base.FirstNs == 0 || e.val.FirstNs < e.base.FirstNs {
			e.base.FirstNs = e.val.FirstNs
		}
	}
	e.val = *v
	e.gen = t.gen
	t.live++
}

// trim forgets the evicted entries dropped longest ago while the table
// holds more than max.
func (t *dropTable) trim() {
	if len(t.m) <= t.max {
		return
	}
	var old []*dropEntry
	for _, e := range t.m {
		if e.evicted {
			old = append(old, e)
		}
	}
	slices.SortFunc(old, func(a, b *dropEntry) int {
		switch {
		case a.val.LastNs < b.val.LastNs:
			return -1
		case a.val.LastNs > b.val.LastNs:
			return 1
		}
		return 0
	})
	for _, e := range old {
		if len(t.m) <= t.max {
			break
		}
		delete(t.m, e.key)
		t.forgotten++
	}
}

// records converts every entry.
func (t *dropTable) records(r *DropReasons, c clock) []capture.LocalDrop {
	out := make([]capture.LocalDrop, 0, len(t.m))
	for _, e := range t.m {
		v := e.val
		v.Packets += e.base.Packets
		v.Bytes += e.base.Bytes
		v.TcpFlags |= e.base.TcpFlags
		if e.base.FirstNs != 0 && e.base.FirstNs < v.FirstNs {
			v.FirstNs = e.base.FirstNs
		}
		d := toLocalDrop(&e.key, &v, r, c)
		d.Evicted = e.evicted
		out = append(out, d)
	}
	return out
}
