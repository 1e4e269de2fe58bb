//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/flowaudit/flowaudit/capture/naming"
)

// TestPrivilegedPayloadEvents checks that exactly the payloads naming
// needs reach the ring buffer: DNS queries and answers, the first TLS
// ClientHello and HTTP request of a direction; not later or other payloads.
func TestPrivilegedPayloadEvents(t *testing.T) {
	requireRoot(t)
	o := loadForTest(t)
	const c, s = "192.0.2.10:40000", "198.51.100.25:443"
	hello := clientHello("mail.example.com")
	httpReq := []byte("GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
	query, answer := dnsQuery(t, "mx.example.net"), dnsAnswer(t, "mx.example.net", "198.51.100.25")
	frames := [][]byte{
		udp(t, "192.0.2.10:41000", "198.51.100.53:53", query),
		udp(t, "198.51.100.53:53", "192.0.2.10:41000", answer),
		tcp(t, c, s, "S", 1, 0, nil, 0),
		tcp(t, s, c, "SA", 1, 2, nil, 0),
		tcp(t, c, s, "PA", 2, 2, hello, 0),
		tcp(t, c, s, "PA", 2, 2, hello, 0), // not the first payload: not sent
		tcp(t, s, c, "PA", 2, 2, []byte("\x16\x03\x03server hello"), 0),
		tcp(t, "192.0.2.10:40001", "198.51.100.25:80", "PA", 1, 1, httpReq, 0),
		tcp(t, "192.0.2.10:40002", "198.51.100.25:25", "PA", 1, 1, []byte("EHLO gw\r\n"), 0),
	}
	resetMaps(t, o)
	rd, err := ringbuf.NewReader(o.Payloads)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	runKernel(t, o, frames)

	var got []uint8
	var datas [][]byte
	var last int64
	rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
	names := naming.NewCache()
	live := testSource(names, nil)
	for {
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_, ts, _, kind, data, ok := parseEvent(rec.RawSample)
		last = max(last, int64(ts))
		if !ok {
			t.Fatalf("short record %d bytes", len(rec.RawSample))
		}
		got = append(got, kind)
		datas = append(datas, append([]byte(nil), data...))
		live.payload(rec.RawSample)
	}
	want := []uint8{payloadDNS, payloadDNS, payloadTLS, payloadHTTP}
	if !slices.Equal(got, want) {
		t.Fatalf("event kinds %v, want %v", got, want)
	}
	for i, w := range [][]byte{query, answer, hello, httpReq} {
		if !bytes.Equal(datas[i], w) {
			t.Errorf("event %d: data %q, want %q", i, datas[i], w)
		}
	}
	if names := names.Names(mustAddr("198.51.100.25"), last); !slices.Equal(names, []string{"mx.example.net"}) {
		t.Errorf("names for the server from DNS: %v", names)
	}
	var sn []string
	for _, n := range live.mirror.names {
		sn = append(sn, n.name) // no flow in the map yet: pending for it
	}
	slices.Sort(sn)
	if !slices.Equal(sn, []string{"mail.example.com", "www.example.org"}) {
		t.Errorf("server names per flow: %v", live.mirror.names)
	}
}
