// Package naming learns names for addresses passively, the way an auditor
// can without sending a packet: from the DNS answers crossing the wire (A and
// AAAA records, following CNAME chains), and extracts the server name a
// client states at the start of a connection (TLS ClientHello SNI, HTTP/1.x
// Host) for the caller to keep with that connection.
//
// Only names an off-path attacker cannot forge are kept: a DNS answer counts
// only when it answers a query seen on the wire (same transaction id, ports,
// resolver and question, within Options.QueryTimeout), and only for the names
// its answer section chains from the question. A server name is never bound
// to an address here: it names the server of its own connection only, and
// only the caller knows whether the gateway opened that connection. The trust
// model is in docs/naming.md.
//
// A Cache keeps, per address, the names valid at a point in time, so a flow
// that starts at ts can be named with what DNS said at ts, not with what it
// says at the end of the capture. Memory is bounded: at most MaxNamesPerAddr
// names per address, Options.MaxAddrs addresses and Options.MaxQueries
// outstanding queries, the oldest dropped first.
package naming

import (
	"net/netip"
	"sync"
	"time"
)

// MaxNamesPerAddr is how many names one address keeps. When a new name
// arrives for a full address, the least recently answered name is replaced:
// shared hosting and CDNs can put hundreds of names on one address, and the
// ones seen last are the ones flows are most likely to be about.
const MaxNamesPerAddr = 8

// Defaults used by NewCache.
const (
	// DefaultGrace extends every DNS validity window past its TTL. Stub
	// resolvers, browsers and connection pools keep using an answer a little
	// after it expired, and a flow's first packet can trail the answer that
	// made it; one minute covers those without naming an address after it
	// has plausibly been handed to someone else.
	DefaultGrace = time.Minute
	// DefaultMaxAddrs bounds the addresses remembered. With the defaults a
	// full Cache holds 11 to 15 MiB (measured in docs/naming.md).
	DefaultMaxAddrs = 16384
	// DefaultMaxQueries bounds the queries waiting for an answer. Answers
	// come within milliseconds and free their slot, so what fills the
	// table is queries never answered within QueryTimeout: 8192 slots hold
	// 800 such queries a second, far more than a mail gateway sends, in
	// 1.4 MiB (measured in docs/naming.md).
	DefaultMaxQueries = 8192
	// DefaultQueryTimeout is how long a query waits for its answer: the
	// DNS flow timeout (flow.DefaultDNSTimeout, Zeek's
	// dns_session_timeout), which is also twice the 5 s a stub resolver
	// waits before it retries (resolv.conf timeout:5).
	DefaultQueryTimeout = 10 * time.Second
)

// Options tune a Cache; zero fields take the defaults above.
type Options struct {
	Grace    time.Duration
	MaxAddrs int
	// MaxQueries bounds the outstanding queries; QueryTimeout is how long
	// one waits for its answer.
	MaxQueries   int
	QueryTimeout time.Duration
	// MaxInterned bounds the intern table; when it is exceeded the table is
	// emptied and rebuilt from new names (strings already handed out stay
	// valid). Default 2 * MaxAddrs.
	MaxInterned int
}

// binding is one name valid for an address during [from, until].
type binding struct {
	name  string
	from  int64
	until int64 // already includes the grace period
	seq   uint64
}

// addrNames holds the names of one address; they form an LRU list by
// index.
type addrNames struct {
	addr       netip.Addr
	names      [MaxNamesPerAddr]binding
	n          int
	prev, next int32
}

// Cache maps addresses to the names passively learned for them: it
// resolves nothing, it remembers what DNS answers on the wire said. It is safe
// for concurrent use; all methods take one internal lock.
type Cache struct {
	mu sync.Mutex

	grace       int64
	maxAddrs    int
	maxInterned int

	index map[netip.Addr]int32
	addrs []addrNames
	head  int32 // most recently updated, -1 when empty
	tail  int32 // least recently updated
	seq   uint64

	interned map[string]string

	queries queries    // outstanding DNS queries
	dns     dnsScratch // reused by ObserveDNS
}

// NewCache returns a Cache with the default options.
func NewCache() *Cache { return NewCacheOptions(Options{}) }

// NewCacheOptions returns a Cache tuned by o.
func NewCacheOptions(o Options) *Cache {
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.MaxAddrs <= 0 {
		o.MaxAddrs = DefaultMaxAddrs
	}
	if o.MaxInterned <= 0 {
		o.MaxInterned = 2 * o.MaxAddrs
	}
	if o.MaxQueries <= 0 {
		o.MaxQueries = DefaultMaxQueries
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	return &Cache{
		grace:       int64(o.Grace),
		queries:     newQueries(o.MaxQueries, int64(o.QueryTimeout)),
		maxAddrs:    o.MaxAddrs,
		maxInterned: o.MaxInterned,
		index:       make(map[netip.Addr]int32),
		interned:    make(map[string]string),
		head:        -1,
		tail:        -1,
	}
}

// Intern returns a string equal to b, allocating only the first time a given
// name is seen (until the bounded table is emptied, see Options.MaxInterned).
func (r *Cache) Intern(b []byte) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.intern(b)
}

func (r *Cache) intern(b []byte) string {
	if s, ok := r.interned[string(b)]; ok { // no allocation: map lookup by []byte
		return s
	}
	if len(r.interned) >= r.maxInterned {
		clear(r.interned)
	}
	s := string(b)
	r.interned[s] = s
	return s
}

// Names returns the names valid for addr at ts, most recently answered first,
// deduplicated, lower-case, without trailing dot; nil when there are none.
func (r *Cache) Names(addr netip.Addr, ts int64) []string {
	return r.AppendNames(nil, addr, ts)
}

// AppendNames appends what Names returns to dst and returns the extended
// slice; with a dst of sufficient capacity it does not allocate.
func (r *Cache) AppendNames(dst []string, addr netip.Addr, ts int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.index[key(addr)]
	if !ok {
		return dst
	}
	e := &r.addrs[i]
	var sel [MaxNamesPerAddr]*binding
	n := 0
	for j := 0; j < e.n; j++ {
		b := &e.names[j]
		if ts < b.from || ts > b.until {
			continue
		}
		// Insertion sort by seq, newest first: at most MaxNamesPerAddr items.
		k := n
		for k > 0 && sel[k-1].seq < b.seq {
			sel[k] = sel[k-1]
			k--
		}
		sel[k] = b
		n++
	}
	for _, b := range sel[:n] {
		dst = append(dst, b.name)
	}
	return dst
}

// key is the form addresses are stored under: IPv4-mapped IPv6 addresses as
// IPv4 (dual-stack sockets and AAAA answers may carry either), no zone.
func key(addr netip.Addr) netip.Addr { return addr.Unmap().WithZone("") }

// bind records name for addr, valid from ts to until (grace included).
func (r *Cache) bind(addr netip.Addr, name string, ts, until int64) {
	r.seq++
	e := r.namesOf(key(addr))
	for j := 0; j < e.n; j++ {
		b := &e.names[j]
		if b.name != name {
			continue
		}
		// A repeated answer extends the window when it overlaps or
		// continues the old one, and restarts it after a gap.
		if ts > b.until {
			b.from, b.until = ts, until
		} else {
			b.from, b.until = min(b.from, ts), max(b.until, until)
		}
		b.seq = r.seq
		return
	}
	slot := e.n
	if e.n < MaxNamesPerAddr {
		e.n++
	} else {
		slot = 0
		for j := 1; j < e.n; j++ {
			if e.names[j].seq < e.names[slot].seq {
				slot = j
			}
		}
	}
	e.names[slot] = binding{name: name, from: ts, until: until, seq: r.seq}
}

// namesOf returns the names of addr, creating them (or recycling the least
// recently updated one when MaxAddrs is reached), and moves it to the front.
func (r *Cache) namesOf(addr netip.Addr) *addrNames {
	if i, ok := r.index[addr]; ok {
		r.moveFront(i)
		return &r.addrs[i]
	}
	var i int32
	if len(r.addrs) < r.maxAddrs {
		r.addrs = append(r.addrs, addrNames{})
		i = int32(len(r.addrs) - 1)
	} else {
		i = r.tail
		r.unlink(i)
		delete(r.index, r.addrs[i].addr)
	}
	r.addrs[i] = addrNames{addr: addr, prev: -1, next: -1}
	r.index[addr] = i
	r.pushFront(i)
	return &r.addrs[i]
}

func (r *Cache) moveFront(i int32) {
	if r.head == i {
		return
	}
	r.unlink(i)
	r.pushFront(i)
}

func (r *Cache) unlink(i int32) {
	e := &r.addrs[i]
	if e.prev >= 0 {
		r.addrs[e.prev].next = e.next
	} else {
		r.head = e.next
	}
	if e.next >= 0 {
		r.addrs[e.next].prev = e.prev
	} else {
		r.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (r *Cache) pushFront(i int32) {
	e := &r.addrs[i]
	e.prev, e.next = -1, r.head
	if r.head >= 0 {
		r.addrs[r.head].prev = i
	}
	r.head = i
	if r.tail < 0 {
		r.tail = i
	}
}

// Len reports how many addresses currently have names (for tests and stats).
func (r *Cache) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.index)
}
