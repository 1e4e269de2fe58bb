package naming

import (
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"testing"
)

// vendor is a name a catalog trusts (host: peer), and evil an address an
// attacker would like it to name.
const (
	vendor = "av-update.vendor.example"
	evil   = "203.0.113.66"
)

// TestForgedAnswers sends a query for the vendor's name and then an answer
// naming evil, changed in one way from the answer the query awaits: only
// the genuine answer binds.
func TestForgedAnswers(t *testing.T) {
	timeout := int64(DefaultQueryTimeout)
	genuine := response(vendor, 1, aRR(vendor, 300, evil))
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	tests := []struct {
		name  string
		query bool // send the query first
		msg   []byte
		tr    Transport
		dt    int64 // answer time after the query
		want  error
	}{
		{name: "genuine answer", query: true, msg: genuine, tr: answered, dt: sec / 100},
		{name: "answer at the end of the timeout", query: true, msg: genuine, tr: answered, dt: timeout},
		{name: "unsolicited: no query seen", msg: genuine, tr: answered, want: ErrUnsolicited},
		{name: "wrong transaction id", query: true, msg: withID(genuine, 0x4321), tr: answered, want: ErrUnsolicited},
		{name: "to another client port", query: true, msg: genuine,
			tr: Transport{Src: resolver, Dst: ap("192.0.2.10:40001")}, want: ErrUnsolicited},
		{name: "to another client address", query: true, msg: genuine,
			tr: Transport{Src: resolver, Dst: ap("192.0.2.11:40000")}, want: ErrUnsolicited},
		{name: "from another resolver", query: true, msg: genuine,
			tr: Transport{Src: ap("198.51.100.54:53"), Dst: client}, want: ErrUnsolicited},
		{name: "from the resolver, not port 53", query: true, msg: genuine,
			tr: Transport{Src: ap("198.51.100.53:5353"), Dst: client}, want: ErrUnsolicited},
		{name: "over TCP to a UDP query", query: true, msg: genuine,
			tr: Transport{Src: resolver, Dst: client, TCP: true}, want: ErrUnsolicited},
		{name: "for another question name", query: true, msg: response("www.vendor.example", 1, aRR(vendor, 300, evil)),
			tr: answered, want: ErrUnsolicited},
		{name: "for another question type", query: true, msg: response(vendor, 28, aRR(vendor, 300, "2001:db8::66")),
			tr: answered, want: ErrUnsolicited},
		{name: "late: past the timeout", query: true, msg: genuine, tr: answered, dt: timeout + 1, want: ErrUnsolicited},
		{name: "before its query", query: true, msg: genuine, tr: answered, dt: -1, want: ErrUnsolicited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewCache()
			if tt.query {
				if err := r.ObserveDNS(queryOf(genuine), t0, asked); err != nil {
					t.Fatal(err)
				}
			}
			err := r.ObserveDNS(tt.msg, t0+tt.dt, tt.tr)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			got := r.Names(netip.MustParseAddr(evil), t0+tt.dt)
			named := slices.Contains(got, vendor)
			if named != (tt.want == nil) {
				t.Errorf("%s named %q; want named: %v", evil, got, tt.want == nil)
			}
			if tt.want != nil && r.Len() != 0 {
				t.Errorf("a refused answer bound %d addresses", r.Len())
			}
		})
	}
}

// TestOneAnswerPerQuery: the answer that comes second (a replay, or a race
// lost by a forger) is refused.
func TestOneAnswerPerQuery(t *testing.T) {
	r := NewCache()
	first := response("mx.example.org", 1, aRR("mx.example.org", 300, "198.51.100.25"))
	if err := exchange(r, first, t0); err != nil {
		t.Fatal(err)
	}
	second := response("mx.example.org", 1, aRR("mx.example.org", 300, evil))
	if err := r.ObserveDNS(second, t0+1, answered); !errors.Is(err, ErrUnsolicited) {
		t.Errorf("second answer: error %v, want ErrUnsolicited", err)
	}
	if got := r.Names(netip.MustParseAddr(evil), t0+1); got != nil {
		t.Errorf("second answer named %s %q", evil, got)
	}
}

// TestRecordsOffTheChain: a genuine answer's records name only what chains
// from the question. Extra answer records and the authority and additional
// sections name nobody.
func TestRecordsOffTheChain(t *testing.T) {
	const q = "mx.example.org"
	tests := []struct {
		name  string
		msg   []byte
		named map[string][]string // address -> names
	}{
		{
			name: "an extra A record for another name",
			msg: response(q, 1,
				aRR(q, 300, "198.51.100.25"),
				aRR(vendor, 300, evil)),
			named: map[string][]string{"198.51.100.25": {q}, evil: nil},
		},
		{
			name: "a CNAME that does not start at the question",
			msg: response(q, 1,
				aRR(q, 300, "198.51.100.25"),
				cnameRR("other.example.org", 300, vendor),
				aRR(vendor, 300, evil)),
			named: map[string][]string{"198.51.100.25": {q}, evil: nil},
		},
		{
			name: "a CNAME chain from the question names every alias (the resolver followed it)",
			msg: response(q, 1,
				cnameRR(q, 300, vendor),
				aRR(vendor, 300, evil)),
			named: map[string][]string{evil: {q, vendor}},
		},
		{
			name: "an authoritative answer to an iterative query names only the question",
			msg: dnsMsg(flagQR|flagAA, "mx.attacker.example", 1,
				cnameRR("mx.attacker.example", 300, vendor),
				aRR(vendor, 300, evil)),
			named: map[string][]string{evil: {"mx.attacker.example"}},
		},
		{
			name: "authority and additional sections",
			msg: withSections(response(q, 1, aRR(q, 300, "198.51.100.25")),
				[]rr{aRR(vendor, 300, evil)}, []rr{aRR("ns1."+vendor, 300, "203.0.113.67")}),
			named: map[string][]string{"198.51.100.25": {q}, evil: nil, "203.0.113.67": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewCache()
			if err := exchange(r, tt.msg, t0); err != nil {
				t.Fatal(err)
			}
			for addr, want := range tt.named {
				if got := r.Names(netip.MustParseAddr(addr), t0); !slices.Equal(got, want) {
					t.Errorf("Names(%s) = %q, want %q", addr, got, want)
				}
			}
		})
	}
}

// TestTransports: queries and answers over TCP, over IPv6, and with
// IPv4-mapped addresses on one side pair up.
func TestTransports(t *testing.T) {
	msg := response(vendor, 1, aRR(vendor, 300, "198.51.100.80"))
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	for _, c := range []struct {
		name     string
		q, a     Transport
		wantBind bool
	}{
		{"tcp", Transport{Src: client, Dst: resolver, TCP: true}, Transport{Src: resolver, Dst: client, TCP: true}, true},
		{"ipv6", Transport{Src: ap("[2001:db8::10]:40000"), Dst: ap("[2001:db8::53]:53")},
			Transport{Src: ap("[2001:db8::53]:53"), Dst: ap("[2001:db8::10]:40000")}, true},
		{"ipv4-mapped answer", asked,
			Transport{Src: ap("[::ffff:198.51.100.53]:53"), Dst: ap("[::ffff:192.0.2.10]:40000")}, true},
		{"query not to port 53", Transport{Src: client, Dst: ap("198.51.100.53:5353")},
			Transport{Src: ap("198.51.100.53:53"), Dst: client}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewCache()
			if err := r.ObserveDNS(queryOf(msg), t0, c.q); err != nil {
				t.Fatal(err)
			}
			err := r.ObserveDNS(msg, t0, c.a)
			if bound := r.Len() == 1; bound != c.wantBind || (err == nil) != c.wantBind {
				t.Errorf("bound %v (error %v), want %v", bound, err, c.wantBind)
			}
		})
	}
}

// TestQueryTable checks the bounds of the outstanding queries: answered
// and expired queries free their slot, and past MaxQueries the oldest
// query is dropped (its answer is then refused).
func TestQueryTable(t *testing.T) {
	r := NewCacheOptions(Options{MaxQueries: 4})
	msgs := make([][]byte, 6)
	for i := range msgs {
		msgs[i] = withID(response(vendor, 1, aRR(vendor, 300, evil)), uint16(i))
		if err := r.ObserveDNS(queryOf(msgs[i]), t0+int64(i), asked); err != nil {
			t.Fatal(err)
		}
	}
	if r.queries.len() != 4 || r.queries.dropped != 2 || len(r.queries.slots) != 4 {
		t.Fatalf("%d outstanding, %d dropped, %d slots; want 4, 2, 4", r.queries.len(), r.queries.dropped, len(r.queries.slots))
	}
	for i, msg := range msgs {
		err := r.ObserveDNS(msg, t0+10, answered)
		if want := i >= 2; (err == nil) != want {
			t.Errorf("answer %d: error %v, want accepted %v", i, err, want)
		}
	}
	if r.queries.len() != 0 {
		t.Errorf("%d queries outstanding after their answers", r.queries.len())
	}
	// A retransmitted query takes one slot and restarts its timeout.
	_ = r.ObserveDNS(queryOf(msgs[0]), t0, asked)
	_ = r.ObserveDNS(queryOf(msgs[0]), t0+int64(DefaultQueryTimeout), asked)
	if r.queries.len() != 1 {
		t.Errorf("retransmission: %d outstanding, want 1", r.queries.len())
	}
	if err := r.ObserveDNS(msgs[0], t0+int64(DefaultQueryTimeout)+sec, answered); err != nil {
		t.Errorf("answer to the retransmission: %v", err)
	}
	// Queries past their timeout are forgotten when time moves on.
	for i := range 3 {
		_ = r.ObserveDNS(queryOf(msgs[i]), t0, asked)
	}
	_ = r.ObserveDNS(queryOf(msgs[5]), t0+int64(DefaultQueryTimeout)+1, asked)
	if r.queries.len() != 1 {
		t.Errorf("after the timeout: %d outstanding, want 1", r.queries.len())
	}
	// Queries that cannot be answered with addresses take no slot.
	_ = r.ObserveDNS(queryOf(response("example.org", 15)), t0+int64(DefaultQueryTimeout)+2, asked) // MX
	if r.queries.len() != 1 {
		t.Errorf("an MX query took a slot: %d outstanding", r.queries.len())
	}
}

// TestQueryTableMemory fills the default query table and reports the heap
// it holds (docs/naming.md quotes the figure: run with -v).
func TestQueryTableMemory(t *testing.T) {
	base := heapInUse()
	r := NewCache()
	msg := queryOf(response(vendor, 1))
	for i := range 2 * DefaultMaxQueries {
		tr := Transport{Src: netip.AddrPortFrom(client.Addr(), uint16(i)), Dst: resolver}
		_ = r.ObserveDNS(withID(msg, uint16(i)), t0, tr)
	}
	held := heapInUse() - base
	if r.queries.len() != DefaultMaxQueries {
		t.Errorf("%d queries outstanding, want %d", r.queries.len(), DefaultMaxQueries)
	}
	t.Logf("%d outstanding queries: %.2f MiB held (the empty Cache included)", r.queries.len(), float64(held)/(1<<20))
	if held > 4<<20 {
		t.Errorf("query table holds %d KiB, want at most 4 MiB", held>>10)
	}
	runtime.KeepAlive(r)
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// withSections appends authority and additional records to msg.
func withSections(msg []byte, authority, additional []rr) []byte {
	m := append([]byte(nil), msg...)
	m[8], m[9] = 0, byte(len(authority))
	m[10], m[11] = 0, byte(len(additional))
	for _, a := range append(authority, additional...) {
		m = append(m, encName(a.name)...)
		m = append(m, byte(a.typ>>8), byte(a.typ), byte(a.class>>8), byte(a.class),
			byte(a.ttl>>24), byte(a.ttl>>16), byte(a.ttl>>8), byte(a.ttl), byte(len(a.data)>>8), byte(len(a.data)))
		m = append(m, a.data...)
	}
	return m
}
