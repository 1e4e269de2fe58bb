package analyze

import (
	"context"
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
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
)

// trustCapture writes packets into a pcap file, 1 ms apart unless wait
// says otherwise.
type trustCapture struct {
	t  *testing.T
	w  *pcapgo.Writer
	ts time.Time
}

func (c *trustCapture) wait(d time.Duration) { c.ts = c.ts.Add(d) }

func (c *trustCapture) write(src, dst string, l4 gopacket.SerializableLayer, payload []byte) {
	c.t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	switch l := l4.(type) {
	case *layers.UDP:
		ip.Protocol = layers.IPProtocolUDP
		_ = l.SetNetworkLayerForChecksum(ip)
	case *layers.TCP:
		ip.Protocol = layers.IPProtocolTCP
		_ = l.SetNetworkLayerForChecksum(ip)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, l4, gopacket.Payload(payload)); err != nil {
		c.t.Fatal(err)
	}
	c.ts = c.ts.Add(time.Millisecond)
	if err := c.w.WritePacket(gopacket.CaptureInfo{Timestamp: c.ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

// dns sends a DNS message over UDP: a query when answers is nil.
func (c *trustCapture) dns(src string, sport uint16, dst string, dport uint16, id uint16, qname string, answers ...layers.DNSResourceRecord) {
	c.t.Helper()
	d := &layers.DNS{ID: id, RD: true, QR: answers != nil, RA: answers != nil,
		Questions: []layers.DNSQuestion{{Name: []byte(qname), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}, Answers: answers}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		c.t.Fatal(err)
	}
	c.write(src, dst, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, buf.Bytes())
}

// http opens a TCP connection from client to server:80 and sends a GET
// naming host (no request when host is empty).
func (c *trustCapture) http(client string, cport uint16, server, host string) {
	c.t.Helper()
	tcp := func(src, dst string, sp, dp uint16, syn, ack bool, seq, ackn uint32, payload []byte) {
		c.write(src, dst, &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: syn, ACK: ack,
			PSH: payload != nil, Seq: seq, Ack: ackn, Window: 64240}, payload)
	}
	tcp(client, server, cport, 80, true, false, 100, 0, nil)
	tcp(server, client, 80, cport, true, true, 900, 101, nil)
	tcp(client, server, cport, 80, false, true, 101, 901, nil)
	if host != "" {
		tcp(client, server, cport, 80, false, true, 101, 901, []byte("GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n"))
	}
}

// TestForgedNameForgesNoVerdict is the end-to-end check of the naming trust
// model: a capture where the gateway fetches AV updates over HTTP from an
// address that only a forged name (an unsolicited or mismatched DNS answer,
// a record off the question's chain, a Host header sent to the gateway)
// calls a Clearswift AV update server. The audit against clearswift-seg
// must not call out-tcp-80-av-updates ok; with a genuine answer, or when
// the gateway itself asks that server for the vendor's name, it is ok.
func TestForgedNameForgesNoVerdict(t *testing.T) {
	const (
		gw       = gw4
		resolver = "198.51.100.53"
		updates  = "203.0.113.80" // where the gateway connects
		vendor   = "aav-update-1.clearswift.net"
		attacker = "203.0.113.90"
	)
	a := func(name, addr string) layers.DNSResourceRecord {
		return layers.DNSResourceRecord{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN,
			TTL: 300, IP: net.ParseIP(addr).To4()}
	}
	tests := []struct {
		name   string
		before func(c *trustCapture) // traffic before the gateway connects
		host   string                // Host header the gateway sends
		wantOK bool
	}{
		{name: "genuine answer", wantOK: true, before: func(c *trustCapture) {
			c.dns(gw, 53000, resolver, 53, 7, vendor)
			c.dns(resolver, 53, gw, 53000, 7, vendor, a(vendor, updates))
		}},
		{name: "the gateway asks the server for the vendor's name", host: vendor, wantOK: true},
		{name: "unsolicited answer", before: func(c *trustCapture) {
			c.dns(resolver, 53, gw, 53000, 7, vendor, a(vendor, updates))
		}},
		{name: "answer with the wrong transaction id", before: func(c *trustCapture) {
			c.dns(gw, 53000, resolver, 53, 7, vendor)
			c.dns(resolver, 53, gw, 53000, 8, vendor, a(vendor, updates))
		}},
		{name: "answer from another address than the resolver asked", before: func(c *trustCapture) {
			c.dns(gw, 53000, resolver, 53, 7, vendor)
			c.dns(attacker, 53, gw, 53000, 7, vendor, a(vendor, updates))
		}},
		{name: "answer after the query's timeout", before: func(c *trustCapture) {
			c.dns(gw, 53000, resolver, 53, 7, vendor)
			c.wait(11 * time.Second)
			c.dns(resolver, 53, gw, 53000, 7, vendor, a(vendor, updates))
		}},
		{name: "a record off the question's chain", before: func(c *trustCapture) {
			c.dns(gw, 53000, resolver, 53, 7, "mx.example.org")
			c.dns(resolver, 53, gw, 53000, 7, "mx.example.org", a("mx.example.org", "198.51.100.25"), a(vendor, updates))
		}},
		{name: "a peer asks the gateway for the vendor's name", before: func(c *trustCapture) {
			c.http(updates, 40500, gw, vendor)
		}},
	}
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := cat.Product("clearswift-seg")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := auditUpdates(t, prod, gw, updates, tt.before, tt.host)
			if (r.Status == OK) != tt.wantOK {
				t.Errorf("out-tcp-80-av-updates is %s (peers %+v); want ok: %v", r.Status, r.Peers, tt.wantOK)
			}
		})
	}
}

// auditUpdates writes a capture of before, then the gateway gw fetching
// from updates over HTTP (with Host: host unless empty), replays it and
// returns the verdict on clearswift-seg's out-tcp-80-av-updates.
func auditUpdates(t *testing.T, prod *catalog.Product, gw, updates string, before func(*trustCapture), host string) *Requirement {
	t.Helper()
	path := filepath.Join(t.TempDir(), "updates.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	c := &trustCapture{t: t, w: w, ts: t0}
	if before != nil {
		before(c)
	}
	c.wait(time.Second)
	c.http(gw, 40100, updates, host)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := pcapfile.ReadFiles(context.Background(), []string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Audit(res, Options{Products: []*catalog.Product{prod}, Hosts: []netip.Addr{netip.MustParseAddr(gw)}})
	if err != nil {
		t.Fatal(err)
	}
	return findReq(t, rep, "clearswift-seg/out-tcp-80-av-updates")
}

// TestServerNameNamesOnlyOutbound: the server name of a flow names its
// responder for a requirement only when the gateway opened the flow. The
// flows are built directly, without DNS names, as a session holds them.
func TestServerNameNamesOnlyOutbound(t *testing.T) {
	const vendor = "update.vendor.example"
	vendorHost := []catalog.Peer{{Kind: catalog.PeerHost, Value: vendor}}
	p := product("p",
		req("updates-out", catalog.Out, catalog.TCP, port(443), vendorHost...),
		req("portal-in", catalog.In, catalog.TCP, port(443), vendorHost...))
	sni := func(n string) func(*flow.Flow) { return func(f *flow.Flow) { f.ServerName = n } }
	flows := []flow.Flow{
		// The gateway connects with the vendor's name in its SNI.
		fl(tcp, gw4+":40000", "198.51.100.80:443", flow.Established, sni(vendor)),
		// A peer connects to the gateway with the vendor's name in its SNI.
		fl(tcp, "203.0.113.90:40001", gw4+":443", flow.Established, sni(vendor)),
	}
	for _, infer := range []bool{false, true} {
		opts := Options{Products: []*catalog.Product{p}}
		if infer {
			// Hosts inferred: the flows are kept compactly until the end,
			// server names included. A third flow makes the gateway the
			// busiest address.
			flows := append(slices.Clone(flows), fl(tcp, gw4+":40002", "198.51.100.25:25", flow.Established))
			rep, err := Audit(&capture.Result{Flows: flows, Stats: capture.Stats{Backend: "file"}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkSNIVerdicts(t, rep, "hosts inferred")
			continue
		}
		opts.Hosts = []netip.Addr{netip.MustParseAddr(gw4)}
		checkSNIVerdicts(t, audit(t, flows, opts), "hosts given")
	}
}

func checkSNIVerdicts(t *testing.T, rep *Report, how string) {
	t.Helper()
	out := findReq(t, rep, "updates-out")
	if out.Status != OK || len(out.Peers) != 1 || !slices.Contains(out.Peers[0].Names, "update.vendor.example") {
		t.Errorf("%s: updates-out %s, peers %+v; want ok, named by the gateway's SNI", how, out.Status, out.Peers)
	}
	if in := findReq(t, rep, "portal-in"); in.Status == OK {
		t.Errorf("%s: portal-in is ok: an inbound SNI named the peer that sent it", how)
	}
}
