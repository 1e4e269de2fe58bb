package flow

import (
	"encoding/binary"
	"math/bits"
)

// index maps Keys to slab positions: open addressing with linear probing
// and backward-shift deletion, so constant insert/delete churn leaves no
// tombstones and probe sequences stay short. Each slot holds the low 32
// bits of the key's hash (its home position and a filter) and the slab
// position plus one (zero marks an empty slot). It grows by doubling at
// half load; in steady state it allocates nothing.
type index struct {
	slots []slot
	mask  uint32
	n     int
	seed  uint64
}

type slot struct {
	tag uint32
	pos uint32 // slab index + 1; 0 = empty
}

func (x *index) init(seed uint64) {
	x.slots = make([]slot, 1024)
	x.mask = 1023
	x.seed = seed
}

// hash mixes the key's five 64-bit words (a multiply-xor hash seeded per
// table, so crafted traffic cannot aim at fixed collisions).
func (x *index) hash(k *Key) uint32 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	w := uint64(k.PortA) | uint64(k.PortB)<<16 | uint64(k.Proto)<<32 | uint64(k.Fam)<<40 | uint64(k.ID)<<48
	h1, l1 := bits.Mul64(binary.LittleEndian.Uint64(k.A[0:8])^x.seed, m1^binary.LittleEndian.Uint64(k.A[8:16]))
	h2, l2 := bits.Mul64(binary.LittleEndian.Uint64(k.B[0:8])^m2, x.seed^binary.LittleEndian.Uint64(k.B[8:16]))
	h3, l3 := bits.Mul64(w^x.seed^m1, m2)
	h := (h1 ^ l1) + (h2^l2)*m1 + (h3^l3)*m2
	h ^= h >> 29
	return uint32(h) ^ uint32(h>>32)
}

// find returns the slab position of k, or -1, and the slot index where it
// is (or would be inserted).
func (x *index) find(k *Key, h uint32, slab []entry) (int32, uint32) {
	i := h & x.mask
	for {
		s := x.slots[i]
		if s.pos == 0 {
			return -1, i
		}
		if s.tag == h && slab[s.pos-1].key.equal(k) {
			return int32(s.pos - 1), i
		}
		i = (i + 1) & x.mask
	}
}

// insert puts pos at the empty slot i found by find, growing when half
// full (slot i is then looked up again).
func (x *index) insert(i uint32, h uint32, pos int32) {
	x.slots[i] = slot{tag: h, pos: uint32(pos) + 1}
	x.n++
	if x.n*2 > len(x.slots) {
		x.grow()
	}
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]slot, 2*len(old))
	x.mask = uint32(len(x.slots) - 1)
	for _, s := range old {
		if s.pos == 0 {
			continue
		}
		i := s.tag & x.mask
		for x.slots[i].pos != 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = s
	}
}

// remove empties slot i and shifts later members of its probe run back,
// so lookups never need tombstones.
func (x *index) remove(i uint32) {
	x.n--
	j := i
	for {
		j = (j + 1) & x.mask
		s := x.slots[j]
		if s.pos == 0 {
			break
		}
		home := s.tag & x.mask
		// s may move to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i] = s
			i = j
		}
	}
	x.slots[i] = slot{}
}

// queue is a FIFO of flows to look at for expiry, in order of the time they
// were queued. Expiry is lazy: a flow is queued when it is created or
// changes list, and when its turn comes it is either expired or queued
// again with its latest activity time. Per packet nothing is queued.
type queue struct {
	buf  []qent
	head int
	n    int
}

type qent struct {
	at  int64 // activity time the entry was queued with
	pos int32
	gen uint32 // entry generation; a mismatch means the entry is stale
}

func (q *queue) push(e qent) {
	if q.n == len(q.buf) {
		nb := make([]qent, max(1024, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = e
	q.n++
}

func (q *queue) peek() *qent { return &q.buf[q.head] }

func (q *queue) pop() qent {
	e := q.buf[q.head]
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return e
}
