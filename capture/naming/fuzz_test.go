package naming

import (
	"bytes"
	"crypto/tls"
	"testing"
)

// FuzzObserveDNS feeds each input as an answer nobody asked for, then as
// the answer to the query it would answer (the input with QR cleared and no
// records), twice. An unsolicited answer never binds; a solicited one binds
// only normalised names; the same exchange again binds the same names.
func FuzzObserveDNS(f *testing.F) {
	f.Add(compressed())
	f.Add(response("www.example.com", 1,
		cnameRR("www.example.com", 60, "edge.example.net"),
		aRR("edge.example.net", 60, "198.51.100.10"),
		aRR("edge.example.net", 60, "2001:db8::10")))
	f.Add(response("www.example.com", 255,
		cnameRR("www.example.com", 60, "edge.example.net"),
		aRR("edge.example.net", 60, "198.51.100.10"),
		aRR("edge.example.net", 60, "2001:db8::10")))
	// Records that do not chain from the question: never bound.
	f.Add(response("mx.example.org", 1,
		aRR("mx.example.org", 60, "198.51.100.25"),
		aRR("av-update.example.com", 60, "203.0.113.66"),
		cnameRR("other.example.net", 60, "av-update.example.com")))
	// An authoritative answer to an iterative query: only the question.
	f.Add(dnsMsg(flagQR|flagAA, "mx.attacker.example", 1,
		cnameRR("mx.attacker.example", 60, "av-update.example.com"),
		aRR("av-update.example.com", 60, "203.0.113.66")))
	f.Add(rawOwner(1, 'a', 0xc0, 12))
	f.Add(rawOwner(0xc0, 14, 0xc0, 12))
	f.Add(rawOwner(longOwner(61)...))
	f.Add(dnsMsg(flagQR|flagTC, "q.example.com", 1, aRR("q.example.com", 60, "192.0.2.8")))
	f.Fuzz(func(t *testing.T, msg []byte) {
		r := NewCache()
		if _ = r.ObserveDNS(msg, t0, answered); r.Len() != 0 {
			t.Fatalf("an unsolicited message bound %d addresses", r.Len())
		}
		err := exchange(r, msg, t0)
		if err != nil && r.Len() != 0 {
			t.Fatalf("error %v, yet %d addresses bound", err, r.Len())
		}
		for addr := range r.index {
			names := r.Names(addr, t0)
			if len(names) == 0 || len(names) > MaxNamesPerAddr {
				t.Fatalf("%s: %d names", addr, len(names))
			}
			for i, n := range names {
				norm, ok := appendNormalized(nil, n)
				if !ok || string(norm) != n {
					t.Fatalf("%s: name %q is not normalized", addr, n)
				}
				for _, m := range names[:i] {
					if m == n {
						t.Fatalf("%s: duplicate name %q", addr, n)
					}
				}
			}
		}
		// The same exchange again must bind the same names (scratch reuse).
		count := func() (n int) {
			for addr := range r.index {
				n += len(r.Names(addr, t0))
			}
			return n
		}
		before := count()
		if err2 := exchange(r, msg, t0); (err == nil) != (err2 == nil) {
			t.Fatalf("second exchange: %v, first: %v", err2, err)
		}
		if after := count(); after != before {
			t.Fatalf("%d names after the first exchange, %d after the second", before, after)
		}
	})
}

func FuzzServerName(f *testing.F) {
	hello := clientHello(f, &tls.Config{ServerName: "mail.example.org"})
	f.Add(hello)
	f.Add(refragment(hello, 2, 100))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: www.example.com:8080\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		name, ok := ServerName(payload)
		if !ok {
			if name != nil {
				t.Fatalf("false with name %q", name)
			}
			return
		}
		if len(name) == 0 || !bytes.Contains(payload, name) {
			t.Fatalf("name %q is not a part of the payload", name)
		}
		if _, valid := appendNormalized(nil, name); !valid {
			t.Fatalf("name %q is not a valid name", name)
		}
	})
}
