package naming

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
)

// clientHello runs a crypto/tls client against one end of a net.Pipe and
// returns the first TLS record it writes: a real ClientHello.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(c1, cfg).Handshake() // fails once c2 closes
		c1.Close()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c2, hdr); err != nil {
		t.Fatalf("read record header: %v", err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c2, body); err != nil {
		t.Fatalf("read record body: %v", err)
	}
	c2.Close()
	<-done
	return append(hdr, body...)
}

// refragment splits the handshake carried by the single record rec into
// records whose payloads end at the given offsets of the handshake.
func refragment(rec []byte, cuts ...int) []byte {
	body := rec[5:]
	var out []byte
	prev := 0
	for _, c := range append(cuts, len(body)) {
		out = append(out, 0x16, 3, 1, byte((c-prev)>>8), byte(c-prev))
		out = append(out, body[prev:c]...)
		prev = c
	}
	return out
}

func TestServerNameTLS(t *testing.T) {
	tls13 := clientHello(t, &tls.Config{ServerName: "mail.example.org"})
	tls12 := clientHello(t, &tls.Config{ServerName: "smtp.example.net", MaxVersion: tls.VersionTLS12})
	noSNI := clientHello(t, &tls.Config{ServerName: "192.0.2.1"}) // IP: crypto/tls sends no SNI
	mixed := clientHello(t, &tls.Config{ServerName: "MX.Example.COM"})
	at := bytes.Index(tls13, []byte("mail.example.org")) - 5 // offset in the handshake
	if at < 0 {
		t.Fatal("server name not found in the ClientHello")
	}
	every := make([]int, 0, len(tls13))
	for i := 1; i < len(tls13)-5; i++ {
		every = append(every, i)
	}
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"TLS 1.3 hello", tls13, "mail.example.org"},
		{"TLS 1.2 hello", tls12, "smtp.example.net"},
		{"name as sent, not lower-cased", mixed, "MX.Example.COM"},
		{"no server_name extension", noSNI, ""},
		{"two records, cut before the name", refragment(tls13, at-1), "mail.example.org"},
		{"three records, cut in the header and lengths", refragment(tls13, 2, at-3), "mail.example.org"},
		{"name straddles two records", refragment(tls13, at+4), ""},
		{"one-byte records", refragment(tls13, every...), ""},
		{"cut inside the name", tls13[:5+at+4], ""},
		{"cut before the extensions", tls13[:60], ""},
		{"not a ClientHello", append([]byte{0x16, 3, 1, 0, 4, 2}, tls13[6:]...), ""},
		{"alert record", append([]byte{0x15}, tls13[1:]...), ""},
		{"second record is not a handshake", append(refragment(tls13, at-1)[:5+at-1], 0x17, 3, 3, 0, 50), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ServerName(tt.payload)
			if string(got) != tt.want || ok != (tt.want != "") {
				t.Errorf("ServerName = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

// TestServerNameTLSPrefixes cuts a real hello at every length: the name is
// either found whole or not at all, never a partial or wrong one.
func TestServerNameTLSPrefixes(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "mail.example.org"})
	for _, p := range [][]byte{hello, refragment(hello, 100, 200)} {
		for n := range len(p) + 1 {
			got, ok := ServerName(p[:n])
			if ok && string(got) != "mail.example.org" {
				t.Errorf("prefix %d: ServerName = %q", n, got)
			}
		}
	}
}

func TestServerNameHTTP(t *testing.T) {
	tests := []struct {
		name, payload, want string
	}{
		{"plain", "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "www.example.com"},
		{"port removed", "GET /x HTTP/1.1\r\nHost: www.example.com:8080\r\nAccept: */*\r\n\r\n", "www.example.com"},
		{"lower-case header", "POST /submit HTTP/1.1\r\nhost: api.example.com\r\n\r\n", "api.example.com"},
		{"upper-case header", "HEAD / HTTP/1.0\r\nHOST: Api.Example.com\r\n\r\n", "Api.Example.com"},
		{"after other headers, no space, LF only", "GET / HTTP/1.1\nUser-Agent: x\nHost:a.example.com\n\n", "a.example.com"},
		{"tabs around value", "GET / HTTP/1.1\r\nHost:\t b.example.com \t\r\n\r\n", "b.example.com"},
		{"trailing dot", "GET / HTTP/1.1\r\nHost: www.example.com.\r\n\r\n", "www.example.com"},
		{"CONNECT", "CONNECT mx.example.com:25 HTTP/1.1\r\nHost: mx.example.com:25\r\n\r\n", "mx.example.com"},
		{"no Host", "GET / HTTP/1.0\r\nAccept: */*\r\n\r\n", ""},
		{"Host-like header", "GET / HTTP/1.1\r\nHostname: x.example.com\r\n\r\n", ""},
		{"Host after end of headers", "GET / HTTP/1.1\r\nA: b\r\n\r\nHost: x.example.com\r\n", ""},
		{"Host line cut short", "GET / HTTP/1.1\r\nHost: www.exam", ""},
		{"IPv4 literal", "GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n", ""},
		{"IPv4 literal with port", "GET / HTTP/1.1\r\nHost: 192.0.2.1:8080\r\n\r\n", ""},
		{"IPv6 literal", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", ""},
		{"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", ""},
		{"space inside Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ""},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ""},
		{"response", "HTTP/1.1 200 OK\r\nHost: x.example.com\r\n\r\n", ""},
		{"SMTP", "EHLO client.example.com\r\n", ""},
		{"lower-case method", "get / HTTP/1.1\r\nHost: x.example.com\r\n\r\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ServerName([]byte(tt.payload))
			if string(got) != tt.want || ok != (tt.want != "") {
				t.Errorf("ServerName = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestServerNameAllocs(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "mail.example.org"})
	req := []byte("GET / HTTP/1.1\r\nUser-Agent: t\r\nHost: www.example.com:80\r\n\r\n")
	for name, p := range map[string][]byte{"tls": hello, "http": req} {
		if n := testing.AllocsPerRun(1000, func() { ServerName(p) }); n != 0 {
			t.Errorf("ServerName(%s): %v allocations, want 0", name, n)
		}
	}
}

func BenchmarkServerNameTLS(b *testing.B) {
	hello := clientHello(b, &tls.Config{ServerName: "mail.example.org"})
	b.ReportAllocs()
	b.SetBytes(int64(len(hello)))
	for b.Loop() {
		if _, ok := ServerName(hello); !ok {
			b.Fatal("no name")
		}
	}
}

func BenchmarkServerNameHTTP(b *testing.B) {
	req := []byte("GET /index.html HTTP/1.1\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nHost: www.example.com\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if _, ok := ServerName(req); !ok {
			b.Fatal("no name")
		}
	}
}
