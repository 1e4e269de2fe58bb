package naming

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// learnDNS names addr as name at ts through a DNS exchange (an A or AAAA
// query and its answer, TTL one hour).
func learnDNS(t testing.TB, r *Cache, addr netip.Addr, name string, ts int64) {
	t.Helper()
	qtype := uint16(typeA)
	if addr.Is6() { // IPv4-mapped too: an AAAA record that is stored as IPv4
		qtype = typeAAAA
	}
	if err := exchange(r, response(name, qtype, aRR(name, 3600, addr.String())), ts); err != nil {
		t.Fatalf("answer %s -> %s: %v", name, addr, err)
	}
}

func TestOptions(t *testing.T) {
	r := NewCacheOptions(Options{Grace: time.Second, QueryTimeout: 2 * time.Second, MaxQueries: 1})
	addr := netip.MustParseAddr("192.0.2.1")
	if err := exchange(r, response("a.example.com", 1, aRR("a.example.com", 10, addr.String())), t0); err != nil {
		t.Fatal(err)
	}
	if got := r.Names(addr, t0+11*sec); got == nil {
		t.Error("name expired before TTL+Grace")
	}
	if got := r.Names(addr, t0+11*sec+1); got != nil {
		t.Errorf("name still valid after TTL+Grace: %q", got)
	}
	msg := response("b.example.com", 1, aRR("b.example.com", 10, addr.String()))
	if err := r.ObserveDNS(queryOf(msg), t0, asked); err != nil {
		t.Fatal(err)
	}
	if err := r.ObserveDNS(msg, t0+2*sec+1, answered); !errors.Is(err, ErrUnsolicited) {
		t.Errorf("answer after the 2 s QueryTimeout: error %v, want ErrUnsolicited", err)
	}
	for i := range 3 {
		_ = r.ObserveDNS(withID(queryOf(msg), uint16(i)), t0+3*sec, asked)
	}
	if r.queries.len() != 1 || r.queries.dropped != 2 {
		t.Errorf("MaxQueries 1: %d outstanding, %d dropped; want 1 and 2", r.queries.len(), r.queries.dropped)
	}
}

func TestIntern(t *testing.T) {
	r := NewCache()
	a := r.Intern([]byte("mx.example.com"))
	b := r.Intern([]byte("mx.example.com"))
	if a != "mx.example.com" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("Intern returned %q and %q at different addresses", a, b)
	}
	buf := []byte("mx.example.com")
	if n := testing.AllocsPerRun(100, func() { r.Intern(buf) }); n != 0 {
		t.Errorf("Intern of a known name: %v allocations, want 0", n)
	}
	// The table is bounded: past MaxInterned it starts over, and strings
	// handed out earlier stay intact.
	r = NewCacheOptions(Options{MaxInterned: 4})
	first := r.Intern([]byte("n0.example.com"))
	for i := range 10 {
		r.Intern(fmt.Appendf(nil, "n%d.example.com", i))
	}
	if len(r.interned) > 4 {
		t.Errorf("intern table holds %d names, bound is 4", len(r.interned))
	}
	if first != "n0.example.com" {
		t.Errorf("interned string changed to %q", first)
	}
}

func TestBoundedAddrs(t *testing.T) {
	r := NewCacheOptions(Options{MaxAddrs: 4})
	for i := range 10 {
		learnDNS(t, r, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), fmt.Sprintf("h%d.example.com", i), t0+int64(i))
	}
	if r.Len() != 4 {
		t.Fatalf("Len = %d, want 4", r.Len())
	}
	// Touching 192.0.2.6 makes it the most recent: 192.0.2.7 goes next.
	learnDNS(t, r, netip.AddrFrom4([4]byte{192, 0, 2, 6}), "again.example.com", t0+10)
	learnDNS(t, r, netip.AddrFrom4([4]byte{192, 0, 2, 10}), "h10.example.com", t0+11)
	for i, wantNamed := range map[int]bool{5: false, 6: true, 7: false, 8: true, 9: true, 10: true} {
		got := r.Names(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), t0+20) != nil
		if got != wantNamed {
			t.Errorf("192.0.2.%d named = %v, want %v", i, got, wantNamed)
		}
	}
}

func TestBoundedNamesPerAddr(t *testing.T) {
	r := NewCache()
	addr := netip.MustParseAddr("2001:db8::1")
	for i := range MaxNamesPerAddr + 3 {
		learnDNS(t, r, addr, fmt.Sprintf("h%d.example.com", i), t0)
	}
	got := r.Names(addr, t0)
	if len(got) != MaxNamesPerAddr {
		t.Fatalf("%d names, want %d: %q", len(got), MaxNamesPerAddr, got)
	}
	if got[0] != fmt.Sprintf("h%d.example.com", MaxNamesPerAddr+2) {
		t.Errorf("newest name is %q", got[0])
	}
	if slices.Contains(got, "h0.example.com") || slices.Contains(got, "h2.example.com") {
		t.Errorf("oldest names were kept: %q", got)
	}
}

// TestAllocs proves the steady-state paths allocate nothing: a query and
// its answer (names already interned, every query a new transaction id, so
// the query table churns) and AppendNames.
func TestAllocs(t *testing.T) {
	r := NewCache()
	msg := response("www.example.com", 1,
		cnameRR("www.example.com", 60, "edge.example.net"),
		aRR("edge.example.net", 60, "198.51.100.10"),
		aRR("edge.example.net", 60, "198.51.100.11"),
		aRR("edge.example.net", 60, "2001:db8::10")) // not an A record: not bound
	query := queryOf(msg)
	addr := netip.MustParseAddr("198.51.100.10")
	dst := make([]string, 0, MaxNamesPerAddr)
	ts := t0
	if err := exchange(r, msg, ts); err != nil {
		t.Fatal(err)
	}
	// Unanswered queries fill part of the table, as lost answers would.
	for i := range DefaultMaxQueries / 2 {
		_ = r.ObserveDNS(withID(query, uint16(i)), ts, asked)
	}
	var id uint16
	for name, f := range map[string]func(){
		"ObserveDNS query and answer": func() {
			ts += sec / 100
			id++
			binary.BigEndian.PutUint16(query, id)
			binary.BigEndian.PutUint16(msg, id)
			_ = r.ObserveDNS(query, ts, asked)
			if err := r.ObserveDNS(msg, ts, answered); err != nil {
				t.Fatal(err)
			}
		},
		"ObserveDNS unsolicited": func() { _ = r.ObserveDNS(msg, ts, answered) },
		"AppendNames":            func() { dst = r.AppendNames(dst[:0], addr, ts) },
	} {
		if n := testing.AllocsPerRun(5000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	if len(dst) != 2 {
		t.Errorf("AppendNames returned %q", dst)
	}
}

func BenchmarkObserveDNS(b *testing.B) {
	r := NewCache()
	msg := response("www.example.com", 1,
		cnameRR("www.example.com", 60, "edge.example.net"),
		aRR("edge.example.net", 60, "198.51.100.10"),
		aRR("edge.example.net", 60, "198.51.100.11"))
	query := queryOf(msg)
	b.ReportAllocs()
	b.SetBytes(int64(len(query) + len(msg)))
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(query, uint16(i))
		binary.BigEndian.PutUint16(msg, uint16(i))
		ts := t0 + int64(i)
		_ = r.ObserveDNS(query, ts, asked)
		if err := r.ObserveDNS(msg, ts, answered); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserveDNSManyAddrs fills the address table past its bound, so
// every answer recycles the oldest entry; the intern table is large enough
// for all 4096 names (past MaxInterned, new names are allocated again).
func BenchmarkObserveDNSManyAddrs(b *testing.B) {
	r := NewCacheOptions(Options{MaxAddrs: 1024, MaxInterned: 8192})
	msgs := make([][]byte, 4096)
	queries := make([][]byte, len(msgs))
	for i := range msgs {
		name := fmt.Sprintf("h%d.example.com", i)
		msgs[i] = response(name, 1, aRR(name, 60, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()))
		queries[i] = queryOf(msgs[i])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = r.ObserveDNS(queries[i%len(msgs)], t0+int64(i), asked)
		_ = r.ObserveDNS(msgs[i%len(msgs)], t0+int64(i), answered)
	}
}

// BenchmarkObserveDNSUnsolicited measures what a flood of answers nobody
// asked for costs: each is parsed up to its question and refused.
func BenchmarkObserveDNSUnsolicited(b *testing.B) {
	r := NewCache()
	msg := response("www.example.com", 1, aRR("www.example.com", 60, "198.51.100.10"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(msg, uint16(i))
		if err := r.ObserveDNS(msg, t0+int64(i), answered); !errors.Is(err, ErrUnsolicited) {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendNames(b *testing.B) {
	r := NewCache()
	addr := netip.MustParseAddr("198.51.100.10")
	for i := range MaxNamesPerAddr {
		learnDNS(b, r, addr, fmt.Sprintf("h%d.example.com", i), t0)
	}
	dst := make([]string, 0, MaxNamesPerAddr)
	b.ReportAllocs()
	for b.Loop() {
		dst = r.AppendNames(dst[:0], addr, t0)
	}
}

// TestMemoryBound fills a default Cache far past its address bound, with
// 2 and then MaxNamesPerAddr distinct names per address, and checks the heap
// it holds stays bounded. Run with -v for the figures in docs/naming.md.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 64k addresses")
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, per := range []int{2, MaxNamesPerAddr} {
		base := heap()
		r := NewCache()
		var name []byte
		for i := range 2 * DefaultMaxAddrs {
			addr := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
			for j := range per {
				name = fmt.Appendf(name[:0], "host-%d-%d.mail.example.com", i, j)
				r.mu.Lock()
				r.bind(addr, r.intern(name), t0, t0+int64(time.Hour))
				r.mu.Unlock()
			}
		}
		held := heap() - base
		if r.Len() != DefaultMaxAddrs {
			t.Errorf("Len = %d, want %d", r.Len(), DefaultMaxAddrs)
		}
		t.Logf("%d addresses x %d names: %.1f MiB held, %d bytes per address",
			r.Len(), per, float64(held)/(1<<20), held/uint64(r.Len()))
		if held > 64<<20 {
			t.Errorf("resolver holds %d MiB, want at most 64", held>>20)
		}
		runtime.KeepAlive(r)
	}
}

func TestAddressForms(t *testing.T) {
	r := NewCache()
	learnDNS(t, r, netip.MustParseAddr("::ffff:192.0.2.1"), "v4.example.com", t0)
	learnDNS(t, r, netip.MustParseAddr("2001:db8::1"), "v6.example.com", t0)
	for _, c := range []lookup{
		{"192.0.2.1", t0, []string{"v4.example.com"}},
		{"::ffff:192.0.2.1", t0, []string{"v4.example.com"}},
		{"2001:db8::1", t0, []string{"v6.example.com"}},
		{"2001:db8::1%eth1", t0, []string{"v6.example.com"}},
	} {
		if got := r.Names(netip.MustParseAddr(c.addr), c.ts); !slices.Equal(got, c.want) {
			t.Errorf("Names(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// TestConcurrent exercises the lock; run with -race.
func TestConcurrent(t *testing.T) {
	r := NewCache()
	msg := compressed()
	other := response("sni.example.com", 1, aRR("sni.example.com", 3600, "192.0.2.80"))
	addr := netip.MustParseAddr("192.0.2.80")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				ts := t0 + int64(i)*sec
				switch g {
				case 0:
					_ = r.ObserveDNS(queryOf(msg), ts, asked)
					_ = r.ObserveDNS(msg, ts, answered)
				case 1:
					_ = r.ObserveDNS(queryOf(other), ts, Transport{Src: netip.MustParseAddrPort("192.0.2.10:40001"), Dst: resolver})
					_ = r.ObserveDNS(other, ts, Transport{Src: resolver, Dst: netip.MustParseAddrPort("192.0.2.10:40001")})
				default:
					r.Names(addr, ts)
					r.Intern([]byte("x.example.com"))
				}
			}
		})
	}
	wg.Wait()
	if got := r.Names(addr, t0+499*sec); len(got) != 3 {
		t.Errorf("Names = %q, want 3 names", got)
	}
}
