package flow

import (
	"unsafe"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// batchPrefetch is how many packets AddBatch prepares at a time.
const batchPrefetch = 64

// Prepared is the part of accounting a packet that needs no table state:
// its flow key and hash. A reader goroutine can compute it with Prepare
// while the table's goroutine runs AddPrepared on earlier packets.
type Prepared struct {
	key   Key
	h     uint32
	fromA bool
	kind  icmpKind
}

// Prepare computes p's key and hash into pr. It reads only what NewTable
// fixed, so it is safe to call from another goroutine than Add's.
func (t *Table) Prepare(p *decode.Packet, pr *Prepared) {
	pr.fromA, pr.kind = packetKey(&pr.key, p)
	pr.h = t.idx.hash(&pr.key)
}

// AddBatch is Add for consecutive packets, with the cache-friendly lookups
// of AddPrepared.
func (t *Table) AddBatch(ps []decode.Packet) {
	for len(ps) > 0 {
		n := min(len(ps), batchPrefetch)
		for i := range n {
			t.Prepare(&ps[i], &t.prep[i])
		}
		t.AddPrepared(ps[:n], t.prep[:n])
		ps = ps[n:]
	}
}

// prefetchChunk is how many packets apart AddPrepared's cache hints run.
const prefetchChunk = 32

// AddPrepared accounts packets whose Prepare results are in prs (same
// length and order). Flow entries live in a table larger than the CPU
// caches, so most of a packet's cost would be waiting for memory: while it
// accounts one chunk of packets, AddPrepared hints the index slots of the
// chunk after next and the entries of the next chunk (whose slots arrived
// during the previous chunk) into the cache, so the waits overlap with
// work instead of adding up.
func (t *Table) AddPrepared(ps []decode.Packet, prs []Prepared) {
	n := len(ps)
	t.prefetchSlots(prs[:min(n, prefetchChunk)])
	t.prefetchSlots(prs[min(n, prefetchChunk):min(n, 2*prefetchChunk)])
	t.prefetchEntries(prs[:min(n, prefetchChunk)])
	for start := 0; start < n; start += prefetchChunk {
		end := min(start+prefetchChunk, n)
		t.prefetchSlots(prs[min(n, end+prefetchChunk):min(n, end+2*prefetchChunk)])
		t.prefetchEntries(prs[end:min(n, end+prefetchChunk)])
		for i := start; i < end; i++ {
			pr := &prs[i]
			t.add(&ps[i], &pr.key, pr.fromA, pr.kind, pr.h)
		}
	}
}

func (t *Table) prefetchSlots(prs []Prepared) {
	for i := range prs {
		prefetchLine(uintptr(unsafe.Pointer(&t.idx.slots[prs[i].h&t.idx.mask])))
	}
}

// prefetchEntries hints the entries the packets' home slots point to. A
// slot may have changed since (flows created or finished): the hint is
// then merely useless.
func (t *Table) prefetchEntries(prs []Prepared) {
	for i := range prs {
		pos := t.idx.slots[prs[i].h&t.idx.mask].pos
		if pos != 0 && int(pos) <= len(t.slab) {
			prefetchEntry(uintptr(unsafe.Pointer(&t.slab[pos-1])))
		}
	}
}
