package naming

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestLearn(t *testing.T) {
	addr := netip.MustParseAddr("198.51.100.7")
	ttl := int64(DefaultLearnTTL + DefaultGrace)
	tests := []struct {
		name  string
		learn string
		want  []string
	}{
		{"plain", "smtp.example.com", []string{"smtp.example.com"}},
		{"case and trailing dot", "SMTP.Example.COM.", []string{"smtp.example.com"}},
		{"empty", "", nil},
		{"only a dot", ".", nil},
		{"empty label", "a..example.com", nil},
		{"leading dot", ".example.com", nil},
		{"space", "a b.example.com", nil},
		{"control byte", "a\nb.example.com", nil},
		{"too long", string(make([]byte, 254)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResolver()
			r.Learn(addr, tt.learn, t0)
			if got := r.Names(addr, t0); !slices.Equal(got, tt.want) {
				t.Errorf("Names = %q, want %q", got, tt.want)
			}
			if tt.want == nil {
				return
			}
			if got := r.Names(addr, t0+ttl); !slices.Equal(got, tt.want) {
				t.Errorf("Names at the end of LearnTTL+grace = %q, want %q", got, tt.want)
			}
			if got := r.Names(addr, t0+ttl+1); got != nil {
				t.Errorf("Names after LearnTTL+grace = %q, want nil", got)
			}
		})
	}
}

func TestLearnAndDNSCombine(t *testing.T) {
	r := NewResolver()
	addr := netip.MustParseAddr("192.0.2.80")
	if err := r.ObserveDNS(compressed(), t0); err != nil {
		t.Fatal(err)
	}
	r.LearnBytes(addr, []byte("Www.Example.Com"), t0+sec) // same name: refreshed, not duplicated
	r.Learn(addr, "static.example.com", t0+2*sec)
	want := []string{"static.example.com", "www.example.com", "web.example.com"}
	if got := r.Names(addr, t0+3*sec); !slices.Equal(got, want) {
		t.Errorf("Names = %q, want %q", got, want)
	}
}

func TestOptions(t *testing.T) {
	r := NewResolverOptions(Options{Grace: time.Second, LearnTTL: 10 * time.Second})
	addr := netip.MustParseAddr("192.0.2.1")
	r.Learn(addr, "a.example.com", t0)
	if got := r.Names(addr, t0+11*sec); got == nil {
		t.Error("name expired before LearnTTL+Grace")
	}
	if got := r.Names(addr, t0+11*sec+1); got != nil {
		t.Errorf("name still valid after LearnTTL+Grace: %q", got)
	}
}

func TestIntern(t *testing.T) {
	r := NewResolver()
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
	r = NewResolverOptions(Options{MaxInterned: 4})
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
	r := NewResolverOptions(Options{MaxAddrs: 4})
	for i := range 10 {
		r.Learn(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), fmt.Sprintf("h%d.example.com", i), t0+int64(i))
	}
	if r.Len() != 4 {
		t.Fatalf("Len = %d, want 4", r.Len())
	}
	// Touching 192.0.2.6 makes it the most recent: 192.0.2.7 goes next.
	r.Learn(netip.AddrFrom4([4]byte{192, 0, 2, 6}), "again.example.com", t0+10)
	r.Learn(netip.AddrFrom4([4]byte{192, 0, 2, 10}), "h10.example.com", t0+11)
	for i, wantNamed := range map[int]bool{5: false, 6: true, 7: false, 8: true, 9: true, 10: true} {
		got := r.Names(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), t0+20) != nil
		if got != wantNamed {
			t.Errorf("192.0.2.%d named = %v, want %v", i, got, wantNamed)
		}
	}
}

func TestBoundedNamesPerAddr(t *testing.T) {
	r := NewResolver()
	addr := netip.MustParseAddr("2001:db8::1")
	for i := range MaxNamesPerAddr + 3 {
		r.Learn(addr, fmt.Sprintf("h%d.example.com", i), t0)
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

// TestAllocs proves the steady-state paths allocate nothing.
func TestAllocs(t *testing.T) {
	r := NewResolver()
	msg := response("www.example.com", 1,
		cnameRR("www.example.com", 60, "edge.example.net"),
		aRR("edge.example.net", 60, "198.51.100.10"),
		aRR("edge.example.net", 60, "198.51.100.11"),
		aRR("edge.example.net", 60, "2001:db8::10"))
	addr := netip.MustParseAddr("198.51.100.10")
	sni := []byte("mail.example.org")
	dst := make([]string, 0, MaxNamesPerAddr)
	ts := t0
	if err := r.ObserveDNS(msg, ts); err != nil {
		t.Fatal(err)
	}
	r.LearnBytes(addr, sni, ts)
	for name, f := range map[string]func(){
		"ObserveDNS":  func() { ts++; _ = r.ObserveDNS(msg, ts) },
		"LearnBytes":  func() { ts++; r.LearnBytes(addr, sni, ts) },
		"AppendNames": func() { dst = r.AppendNames(dst[:0], addr, ts) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	if len(dst) != 3 {
		t.Errorf("AppendNames returned %q", dst)
	}
}

func BenchmarkObserveDNS(b *testing.B) {
	r := NewResolver()
	msg := response("www.example.com", 1,
		cnameRR("www.example.com", 60, "edge.example.net"),
		aRR("edge.example.net", 60, "198.51.100.10"),
		aRR("edge.example.net", 60, "198.51.100.11"))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; b.Loop(); i++ {
		if err := r.ObserveDNS(msg, t0+int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserveDNSManyAddrs fills the address table past its bound, so
// every answer recycles the oldest entry; the intern table is large enough
// for all 4096 names (past MaxInterned, new names are allocated again).
func BenchmarkObserveDNSManyAddrs(b *testing.B) {
	r := NewResolverOptions(Options{MaxAddrs: 1024, MaxInterned: 8192})
	msgs := make([][]byte, 4096)
	for i := range msgs {
		name := fmt.Sprintf("h%d.example.com", i)
		msgs[i] = response(name, 1, aRR(name, 60, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = r.ObserveDNS(msgs[i%len(msgs)], t0+int64(i))
	}
}

func BenchmarkAppendNames(b *testing.B) {
	r := NewResolver()
	addr := netip.MustParseAddr("198.51.100.10")
	for i := range MaxNamesPerAddr {
		r.Learn(addr, fmt.Sprintf("h%d.example.com", i), t0)
	}
	dst := make([]string, 0, MaxNamesPerAddr)
	b.ReportAllocs()
	for b.Loop() {
		dst = r.AppendNames(dst[:0], addr, t0)
	}
}

// TestMemoryBound fills a default Resolver far past its address bound, with
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
		r := NewResolver()
		var name []byte
		for i := range 2 * DefaultMaxAddrs {
			addr := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
			for j := range per {
				name = fmt.Appendf(name[:0], "host-%d-%d.mail.example.com", i, j)
				r.LearnBytes(addr, name, t0)
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
	r := NewResolver()
	r.Learn(netip.MustParseAddr("::ffff:192.0.2.1"), "v4.example.com", t0)
	r.Learn(netip.MustParseAddr("fe80::1%eth0"), "ll.example.com", t0)
	for _, c := range []lookup{
		{"192.0.2.1", t0, []string{"v4.example.com"}},
		{"::ffff:192.0.2.1", t0, []string{"v4.example.com"}},
		{"fe80::1", t0, []string{"ll.example.com"}},
		{"fe80::1%eth1", t0, []string{"ll.example.com"}},
	} {
		if got := r.Names(netip.MustParseAddr(c.addr), c.ts); !slices.Equal(got, c.want) {
			t.Errorf("Names(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
	r.Learn(netip.Addr{}, "invalid.example.com", t0)
	if r.Len() != 2 {
		t.Errorf("the zero Addr was bound: Len = %d", r.Len())
	}
}

// TestConcurrent exercises the lock; run with -race.
func TestConcurrent(t *testing.T) {
	r := NewResolver()
	msg := compressed()
	addr := netip.MustParseAddr("192.0.2.80")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				ts := t0 + int64(i)*sec
				switch g {
				case 0:
					_ = r.ObserveDNS(msg, ts)
				case 1:
					r.Learn(addr, "sni.example.com", ts)
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
