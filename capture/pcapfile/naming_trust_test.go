package pcapfile

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// dnsMessage serializes a DNS query (answers nil) or response.
func dnsMessage(t *testing.T, id uint16, qname string, answers ...layers.DNSResourceRecord) []byte {
	t.Helper()
	d := &layers.DNS{ID: id, RD: true, QR: answers != nil, RA: answers != nil, ResponseCode: layers.DNSResponseCodeNoErr,
		Questions: []layers.DNSQuestion{{Name: []byte(qname), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers:   answers}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

func aRecord(name string, addr net.IP) layers.DNSResourceRecord {
	return layers.DNSResourceRecord{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: addr.To4()}
}

// tcpDNS prefixes msg with its 2-byte length, as DNS over TCP sends it.
func tcpDNS(msg []byte) []byte { return binary.BigEndian.AppendUint16(nil, uint16(len(msg))) }

// TestReadFilesNamingTrust replays a capture holding a genuine DNS exchange
// (UDP and TCP), forged answers, and HTTP requests both ways, and checks
// which flows get which names: only answers to the queries seen name an
// address, only for the name asked; the Host header of a flow stays its
// ServerName, apart from the names of its sides.
func TestReadFilesNamingTrust(t *testing.T) {
	const vendor = "aav-update-1.clearswift.net"
	var (
		resolver = fwV4
		forged   = []net.IP{{203, 0, 113, 80}, {203, 0, 113, 81}, {203, 0, 113, 82}}
		overTCP  = net.IP{198, 51, 100, 26}
		attacker = net.IP{203, 0, 113, 90}
	)
	path := filepath.Join(t.TempDir(), "named.pcap")
	writeNamingCapture(t, path, vendor, resolver, overTCP, attacker, forged)
	res, err := ReadFiles(context.Background(), []string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	find := func(orig, resp net.IP, port uint16) *flow.Flow {
		t.Helper()
		o, r := netip.MustParseAddr(orig.String()), netip.MustParseAddr(resp.String())
		for i := range res.Flows {
			f := &res.Flows[i]
			if f.Orig.Addr() == o && f.Resp.Addr() == r && f.Resp.Port() == port {
				return f
			}
		}
		t.Fatalf("no flow %s -> %s:%d in %+v", orig, resp, port, res.Flows)
		return nil
	}
	for _, c := range []struct {
		what       string
		f          *flow.Flow
		resp       []string
		serverName string
	}{
		{"the server the gateway asked for", find(gwV4, srvV4, 80), []string{"mx.example.net"}, "www.example.org"},
		{"an answer over TCP", find(gwV4, overTCP, 80), []string{"tcp.example.net"}, ""},
		{"an extra record off the question's chain", find(gwV4, forged[0], 80), nil, ""},
		{"an unsolicited answer", find(gwV4, forged[1], 80), nil, ""},
		{"an answer with the wrong id", find(gwV4, forged[2], 80), nil, ""},
		{"the attacker whose request named the vendor", find(gwV4, attacker, 80), nil, ""},
		{"the gateway, named in an inbound Host header", find(attacker, gwV4, 80), nil, vendor},
	} {
		if !slices.Equal(c.f.RespNames, c.resp) || c.f.ServerName != c.serverName || c.f.OrigNames != nil {
			t.Errorf("%s: resp names %q, server name %q, orig names %q; want %q, %q, none",
				c.what, c.f.RespNames, c.f.ServerName, c.f.OrigNames, c.resp, c.serverName)
		}
	}
}

// writeNamingCapture writes the capture TestReadFilesNamingTrust replays.
func writeNamingCapture(t *testing.T, path, vendor string, resolver, overTCP, attacker net.IP, forged []net.IP) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	b := &pcapBuilder{t: t, w: w, ts: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	// Genuine: the answer to the gateway's query, with an extra record
	// that does not chain from the question.
	b.udp(true, gwV4, resolver, 53000, 53, dnsMessage(t, 7, "mx.example.net"))
	b.at(time.Millisecond)
	b.udp(false, resolver, gwV4, 53, 53000, dnsMessage(t, 7, "mx.example.net",
		aRecord("mx.example.net", srvV4), aRecord(vendor, forged[0])))
	// Unsolicited: nobody asked.
	b.udp(false, resolver, gwV4, 53, 53001, dnsMessage(t, 9, vendor, aRecord(vendor, forged[1])))
	// A query for the vendor's name, answered with the wrong id.
	b.udp(true, gwV4, resolver, 53002, 53, dnsMessage(t, 10, vendor))
	b.udp(false, resolver, gwV4, 53, 53002, dnsMessage(t, 11, vendor, aRecord(vendor, forged[2])))
	// Genuine over TCP.
	q := dnsMessage(t, 12, "tcp.example.net")
	b.tcp(true, gwV4, resolver, 53003, 53, false, true, false, false, 1, 1, append(tcpDNS(q), q...))
	a := dnsMessage(t, 12, "tcp.example.net", aRecord("tcp.example.net", overTCP))
	b.tcp(false, resolver, gwV4, 53, 53003, false, true, false, false, 1, uint32(len(q)+3), append(tcpDNS(a), a...))
	// An inbound request naming the vendor in its Host header.
	b.at(time.Second)
	b.tcp(false, attacker, gwV4, 40500, 80, false, true, false, false, 1, 1, []byte("GET / HTTP/1.1\r\nHost: "+vendor+"\r\n\r\n"))
	// The gateway's own connections.
	b.at(time.Second)
	port := uint16(40100)
	for _, dst := range append([]net.IP{srvV4, overTCP, attacker}, forged...) {
		var payload []byte
		if dst.Equal(srvV4) {
			payload = []byte("GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
		}
		b.tcp(true, gwV4, dst, port, 80, true, false, false, false, 1, 0, nil)
		b.tcp(false, dst, gwV4, 80, port, true, true, false, false, 9, 2, nil)
		b.tcp(true, gwV4, dst, port, 80, false, true, false, false, 2, 10, payload)
		port++
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
