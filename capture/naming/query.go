package naming

import (
	"hash/maphash"
	"net/netip"
)

// Transport says how a DNS message travelled: the packet's source and
// destination and whether it came over TCP. ObserveDNS needs it to pair an
// answer with the query it answers.
type Transport struct {
	Src, Dst netip.AddrPort
	TCP      bool
}

// queryKey identifies an outstanding query: who asked whom, over which
// transport, with which transaction id, for which record type. Addresses are
// kept as 16-byte arrays (an IPv4 address and its IPv4-mapped IPv6 form give
// the same bytes, so both forms are one key): a pointer-free key keeps the
// map out of the garbage collector's scans.
type queryKey struct {
	client, server [16]byte
	cport          uint16
	id             uint16
	qtype          uint16
	tcp            bool
}

// outstanding is one query waiting for its answer, in a doubly linked list
// by age (index links into queries.slots).
type outstanding struct {
	key        queryKey
	name       uint64 // maphash of the normalised question name
	ts         int64
	recursive  bool // the query had RD set (a stub asking its resolver)
	prev, next int32
}

// queries is the bounded table of outstanding queries. Slots are allocated
// once, up to max; a query answered or expired goes back to the free list,
// and when all limit slots hold live queries the oldest is dropped.
type queries struct {
	limit   int
	timeout int64
	seed    maphash.Seed
	index   map[queryKey]int32
	slots   []outstanding
	free    int32 // head of the free list (linked by next), -1 when empty
	oldest  int32 // -1 when empty
	newest  int32
	dropped uint64 // queries dropped to make room (for tests and stats)
}

func newQueries(limit int, timeout int64) queries {
	return queries{limit: limit, timeout: timeout, seed: maphash.MakeSeed(),
		index: make(map[queryKey]int32, limit), free: -1, oldest: -1, newest: -1}
}

// keyOf builds the key of a query sent from client to server.
func keyOf(client, server netip.AddrPort, tcp bool, id, qtype uint16) queryKey {
	return queryKey{client: key(client.Addr()).As16(), server: key(server.Addr()).As16(),
		cport: client.Port(), id: id, qtype: qtype, tcp: tcp}
}

// add records a query seen at ts. A query already outstanding under the
// same key (a retransmission) is replaced, so its timeout restarts.
func (q *queries) add(k queryKey, name uint64, ts int64, recursive bool) {
	q.expire(ts)
	if i, ok := q.index[k]; ok {
		q.remove(i)
	}
	var i int32
	switch {
	case q.free >= 0:
		i = q.free
		q.free = q.slots[i].next
	case len(q.slots) < q.limit:
		q.slots = append(q.slots, outstanding{})
		i = int32(len(q.slots) - 1)
	default:
		i = q.oldest
		q.remove(i)
		q.free = q.slots[i].next
		q.dropped++
	}
	q.slots[i] = outstanding{key: k, name: name, ts: ts, recursive: recursive, prev: q.newest, next: -1}
	if q.newest >= 0 {
		q.slots[q.newest].next = i
	} else {
		q.oldest = i
	}
	q.newest = i
	q.index[k] = i
}

// take returns the outstanding query an answer seen at ts under key k and
// question-name hash name answers, and forgets it: one query, one answer.
// An answer later than the timeout, earlier than its query, or for another
// name matches nothing.
func (q *queries) take(k queryKey, name uint64, ts int64) (outstanding, bool) {
	q.expire(ts)
	i, ok := q.index[k]
	if !ok {
		return outstanding{}, false
	}
	o := q.slots[i]
	if o.name != name || ts < o.ts || ts-o.ts > q.timeout {
		return outstanding{}, false
	}
	q.remove(i)
	return o, true
}

// expire forgets the queries older than the timeout at now. Capture time
// only moves forward, give or take the reordering of merged inputs, so the
// oldest entries are the ones to look at.
func (q *queries) expire(now int64) {
	for q.oldest >= 0 && now-q.slots[q.oldest].ts > q.timeout {
		q.remove(q.oldest)
	}
}

// remove unlinks slot i, drops its index entry and puts it on the free list.
func (q *queries) remove(i int32) {
	s := &q.slots[i]
	if s.prev >= 0 {
		q.slots[s.prev].next = s.next
	} else {
		q.oldest = s.next
	}
	if s.next >= 0 {
		q.slots[s.next].prev = s.prev
	} else {
		q.newest = s.prev
	}
	delete(q.index, s.key)
	s.prev, s.next = -1, q.free
	q.free = i
}

// len is the number of outstanding queries.
func (q *queries) len() int { return len(q.index) }
