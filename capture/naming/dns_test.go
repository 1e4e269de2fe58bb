package naming

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

const sec = int64(1e9)

// t0 is an arbitrary capture time (2026-01-01T00:00:00Z) in Unix ns.
const t0 = int64(1767225600) * sec

type lookup struct {
	addr string
	ts   int64
	want []string
}

func TestObserveDNS(t *testing.T) {
	grace := int64(DefaultGrace)
	tests := []struct {
		name    string
		msg     []byte
		wantErr error
		checks  []lookup
	}{
		{
			name: "A",
			msg:  response("mx1.example.com", 1, aRR("mx1.example.com", 300, "192.0.2.25")),
			checks: []lookup{
				{"192.0.2.25", t0, []string{"mx1.example.com"}},
				{"192.0.2.25", t0 + 300*sec + grace, []string{"mx1.example.com"}},
				{"192.0.2.25", t0 + 300*sec + grace + 1, nil},
				{"192.0.2.25", t0 - 1, nil}, // not yet answered
				{"192.0.2.26", t0, nil},
			},
		},
		{
			name: "AAAA",
			msg:  response("mx1.example.com", 28, aRR("mx1.example.com", 60, "2001:db8::25")),
			checks: []lookup{
				{"2001:db8::25", t0 + 30*sec, []string{"mx1.example.com"}},
				{"2001:db8::26", t0, nil},
			},
		},
		{
			name: "AAAA with IPv4-mapped address is stored unmapped",
			msg:  response("v4.example.com", 28, aRR("v4.example.com", 60, "::ffff:192.0.2.7")),
			checks: []lookup{
				{"192.0.2.7", t0, []string{"v4.example.com"}},
				{"::ffff:192.0.2.7", t0, []string{"v4.example.com"}},
			},
		},
		{
			name: "CNAME chain: query first, then aliases, then the final name; TTL is the chain minimum",
			msg: response("www.example.com", 1,
				cnameRR("www.example.com", 100, "edge.example.net"),
				cnameRR("edge.example.net", 600, "pop1.cdn.example.org"),
				aRR("pop1.cdn.example.org", 3600, "198.51.100.10")),
			checks: []lookup{
				{"198.51.100.10", t0, []string{"www.example.com", "edge.example.net", "pop1.cdn.example.org"}},
				{"198.51.100.10", t0 + 100*sec + grace + 1, []string{"edge.example.net", "pop1.cdn.example.org"}},
				{"198.51.100.10", t0 + 600*sec + grace + 1, []string{"pop1.cdn.example.org"}},
				{"198.51.100.10", t0 + 3600*sec + grace + 1, nil},
			},
		},
		{
			name: "CNAME chain in shuffled order",
			msg: response("a.example.com", 1,
				aRR("c.example.com", 60, "192.0.2.3"),
				cnameRR("b.example.com", 60, "c.example.com"),
				cnameRR("a.example.com", 60, "b.example.com")),
			checks: []lookup{{"192.0.2.3", t0, []string{"a.example.com", "b.example.com", "c.example.com"}}},
		},
		{
			name: "multiple answers, an unrelated CNAME, and an AAAA record in an A answer",
			msg: response("pool.example.com", 1,
				aRR("pool.example.com", 60, "192.0.2.1"),
				aRR("pool.example.com", 60, "192.0.2.2"),
				aRR("pool.example.com", 60, "2001:db8::2"),
				cnameRR("other.example.com", 60, "elsewhere.example.com")),
			checks: []lookup{
				{"192.0.2.1", t0, []string{"pool.example.com"}},
				{"192.0.2.2", t0, []string{"pool.example.com"}},
				{"2001:db8::2", t0, nil}, // not the type asked for
			},
		},
		{
			name: "ANY: both address types",
			msg: response("pool.example.com", 255,
				aRR("pool.example.com", 60, "192.0.2.1"),
				aRR("pool.example.com", 60, "2001:db8::2")),
			checks: []lookup{
				{"192.0.2.1", t0, []string{"pool.example.com"}},
				{"2001:db8::2", t0, []string{"pool.example.com"}},
			},
		},
		{
			name: "upper case and trailing dot are normalized",
			msg:  response("MAIL.Example.COM.", 1, aRR("MAIL.Example.COM.", 60, "192.0.2.9")),
			checks: []lookup{
				{"192.0.2.9", t0, []string{"mail.example.com"}},
			},
		},
		{
			name:   "compression pointers",
			msg:    compressed(),
			checks: []lookup{{"192.0.2.80", t0, []string{"www.example.com", "web.example.com"}}},
		},
		{
			name: "CNAME loop, and an address of a name off the chain: nothing bound",
			msg: response("x.example.com", 1,
				cnameRR("x.example.com", 60, "y.example.com"),
				cnameRR("y.example.com", 60, "x.example.com"),
				aRR("z.example.com", 60, "192.0.2.4")),
			checks: []lookup{{"192.0.2.4", t0, nil}},
		},
		{
			name:   "TTL zero is valid for the grace period only",
			msg:    response("z.example.com", 1, aRR("z.example.com", 0, "192.0.2.5")),
			checks: []lookup{{"192.0.2.5", t0 + grace, []string{"z.example.com"}}, {"192.0.2.5", t0 + grace + 1, nil}},
		},
		{
			name:   "TTL with the top bit set counts as zero (RFC 2181)",
			msg:    response("z.example.com", 1, aRR("z.example.com", 1<<31, "192.0.2.5")),
			checks: []lookup{{"192.0.2.5", t0 + grace + 1, nil}},
		},
		{
			name: "records of other types and classes are skipped",
			msg: response("t.example.com", 1,
				rr{name: "t.example.com", typ: 16, class: 1, ttl: 60, data: []byte{3, 'a', 'b', 'c'}},
				rr{name: "t.example.com", typ: 1, class: 3, ttl: 60, data: []byte{192, 0, 2, 6}},
				rr{name: "t.example.com", typ: 1, class: 1, ttl: 60, data: []byte{192, 0, 2}}),
			checks: []lookup{{"192.0.2.6", t0, nil}},
		},
		{
			name:   "names with control bytes are not bound",
			msg:    response("x", 1, aRR("bad\x1bname.example.com", 60, "192.0.2.7")),
			checks: []lookup{{"192.0.2.7", t0, nil}},
		},
		{
			name:   "a query names nothing, whatever records it carries",
			msg:    dnsMsg(flagRD, "q.example.com", 1, aRR("q.example.com", 60, "192.0.2.8")),
			checks: []lookup{{"192.0.2.8", t0, nil}},
		},
		{
			name:    "TC bit is ignored",
			msg:     dnsMsg(flagQR|flagTC, "q.example.com", 1, aRR("q.example.com", 60, "192.0.2.8")),
			checks:  []lookup{{"192.0.2.8", t0, nil}},
			wantErr: ErrTruncated,
		},
		{
			name:   "NXDOMAIN is ignored",
			msg:    dnsMsg(flagQR|3, "q.example.com", 1, aRR("q.example.com", 60, "192.0.2.8")),
			checks: []lookup{{"192.0.2.8", t0, nil}},
		},
		{
			name:    "pointer to itself",
			msg:     rawOwner(0xc0, 12),
			wantErr: ErrMalformed,
			checks:  []lookup{{"192.0.2.1", t0, nil}},
		},
		{
			name:    "two pointers in a loop",
			msg:     rawOwner(0xc0, 14, 0xc0, 12),
			wantErr: ErrMalformed,
		},
		{
			name:    "label then pointer back to it",
			msg:     rawOwner(1, 'a', 0xc0, 12),
			wantErr: ErrMalformed,
		},
		{
			name:    "pointer past the end",
			msg:     rawOwner(0xff, 0xff),
			wantErr: ErrTruncated,
		},
		{
			name:    "reserved label type",
			msg:     rawOwner(0x40, 0),
			wantErr: ErrMalformed,
		},
		{
			name:    "name longer than 255 bytes",
			msg:     rawOwner(append(longLabels(5), 0)...),
			wantErr: ErrMalformed,
		},
		{
			name:   "name of 253 bytes, the longest allowed",
			msg:    rawOwner(longOwner(61)...),
			checks: []lookup{{"192.0.2.1", t0, []string{longName(61)}}},
		},
		{
			name:    "name of 254 bytes",
			msg:     rawOwner(longOwner(62)...),
			wantErr: ErrMalformed,
		},
		{
			name:    "header only",
			msg:     []byte{0, 1, 0x81},
			wantErr: ErrTruncated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewCache()
			err := exchange(r, tt.msg, t0)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("ObserveDNS error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && r.Len() != 0 {
				t.Errorf("a rejected message bound %d addresses", r.Len())
			}
			for _, c := range tt.checks {
				got := r.Names(netip.MustParseAddr(c.addr), c.ts)
				if !slices.Equal(got, c.want) {
					t.Errorf("Names(%s, t0%+ds) = %q, want %q", c.addr, (c.ts-t0)/sec, got, c.want)
				}
			}
		})
	}
}

// longLabels returns n labels of 63 bytes each.
func longLabels(n int) []byte {
	var b []byte
	for range n {
		b = append(b, 63)
		for range 63 {
			b = append(b, 'a')
		}
	}
	return b
}

// longOwner encodes longLabels(3), a label of n 'b's, and the root.
func longOwner(n int) []byte {
	b := append(longLabels(3), byte(n))
	return append(append(b, bytes.Repeat([]byte{'b'}, n)...), 0)
}

// longName is the text form of longLabels(3) followed by a label of n 'b's.
func longName(n int) string {
	a := strings.Repeat("a", 63)
	return a + "." + a + "." + a + "." + strings.Repeat("b", n)
}

// TestObserveDNSTruncated cuts a valid response at every length: every
// prefix is rejected and binds nothing.
func TestObserveDNSTruncated(t *testing.T) {
	full := response("www.example.com", 1,
		cnameRR("www.example.com", 60, "web.example.com"),
		aRR("web.example.com", 60, "192.0.2.80"))
	for n := range len(full) {
		r := NewCache()
		if err := r.ObserveDNS(queryOf(full), t0, asked); err != nil {
			t.Fatalf("query: %v", err)
		}
		if err := r.ObserveDNS(full[:n], t0, answered); !errors.Is(err, ErrTruncated) {
			t.Errorf("prefix of %d/%d bytes: error = %v, want ErrTruncated", n, len(full), err)
		}
		if r.Len() != 0 {
			t.Errorf("prefix of %d/%d bytes bound %d addresses", n, len(full), r.Len())
		}
	}
	r := NewCache()
	if err := exchange(r, full, t0); err != nil {
		t.Fatalf("full message: %v", err)
	}
}

// TestObserveDNSOverTime checks how repeated and changing answers combine.
func TestObserveDNSOverTime(t *testing.T) {
	r := NewCache()
	addr := netip.MustParseAddr("203.0.113.5")
	grace := int64(DefaultGrace)
	obs := func(ts int64, name string, ttl uint32) {
		t.Helper()
		if err := exchange(r, response(name, 1, aRR(name, ttl, addr.String())), ts); err != nil {
			t.Fatal(err)
		}
	}
	obs(t0, "a.example.com", 100)
	obs(t0+50*sec, "b.example.com", 100)
	obs(t0+90*sec, "a.example.com", 100) // refresh extends a's window
	for _, c := range []lookup{
		{"203.0.113.5", t0 + 10*sec, []string{"a.example.com"}},
		{"203.0.113.5", t0 + 60*sec, []string{"a.example.com", "b.example.com"}}, // a answered last
		{"203.0.113.5", t0 + 150*sec + grace + 1, []string{"a.example.com"}},
		{"203.0.113.5", t0 + 190*sec + grace + 1, nil},
	} {
		if got := r.Names(addr, c.ts); !slices.Equal(got, c.want) {
			t.Errorf("Names(t0%+ds) = %q, want %q", (c.ts-t0)/sec, got, c.want)
		}
	}
	// After a gap the window restarts: the old one is not stretched over it.
	obs(t0+1000*sec, "a.example.com", 10)
	if got := r.Names(addr, t0+500*sec); got != nil {
		t.Errorf("Names inside the gap = %q, want nil", got)
	}
	if got := r.Names(addr, t0+1000*sec); !slices.Equal(got, []string{"a.example.com"}) {
		t.Errorf("Names after the gap = %q", got)
	}
}
