package analyze

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
)

// moveInbound rewrites the lab capture so that the gateway receives mail
// and web traffic (TCP 25 and 80, both families) on a second address of
// the same host and MAC, as a gateway with a service address does:
// 192.0.2.10 -> 192.0.2.11, 2001:db8:a::10 -> 2001:db8:a::11 in those
// flows only. Frames keep their Ethernet header; checksums are
// recomputed.
func moveInbound(t *testing.T, in string) string {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "mailcleaner-two-addresses.pcap")
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := pcapgo.NewWriterNanos(o)
	if err := w.WriteFileHeader(65535, r.LinkType()); err != nil {
		t.Fatal(err)
	}
	old4, new4 := net.ParseIP("192.0.2.10").To4(), net.ParseIP("192.0.2.11").To4()
	old6, new6 := net.ParseIP("2001:db8:a::10"), net.ParseIP("2001:db8:a::11")
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp != nil && (inboundPort(tcp.DstPort) || inboundPort(tcp.SrcPort)) {
			data = rewriteAddr(t, pkt, tcp, old4, new4, old6, new6)
			ci.CaptureLength, ci.Length = len(data), len(data)
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// inboundPort: the gateway's SMTP and HTTP server ports (its own
// connections go out from ephemeral ports, so a server port of 25 or 80
// on the gateway's side marks an inbound flow).
func inboundPort(p layers.TCPPort) bool { return p == 25 || p == 80 }

// rewriteAddr moves the gateway's side of an inbound SMTP/HTTP packet to
// the second address; a packet of the gateway's own outbound connections
// (its port ephemeral) is left as it is.
func rewriteAddr(t *testing.T, pkt gopacket.Packet, tcp *layers.TCP, old4, new4, old6, new6 net.IP) []byte {
	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	var ip gopacket.SerializableLayer
	switch v := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		switch {
		case v.DstIP.Equal(old4) && inboundPort(tcp.DstPort):
			v.DstIP = new4
		case v.SrcIP.Equal(old4) && inboundPort(tcp.SrcPort):
			v.SrcIP = new4
		}
		ip = v
		_ = tcp.SetNetworkLayerForChecksum(v)
	case *layers.IPv6:
		switch {
		case v.DstIP.Equal(old6) && inboundPort(tcp.DstPort):
			v.DstIP = new6
		case v.SrcIP.Equal(old6) && inboundPort(tcp.SrcPort):
			v.SrcIP = new6
		}
		ip = v
		_ = tcp.SetNetworkLayerForChecksum(v)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(tcp.Payload)); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

// TestLabSecondAddressOfMAC: a gateway receiving mail on a second address
// of its MAC. Without --host, the link layer gives both addresses, and
// every verdict is the one the plain capture gets with --host.
func TestLabSecondAddressOfMAC(t *testing.T) {
	plain := "../testdata/lab/captures/mailcleaner.pcap"
	if _, err := os.Stat(plain); err != nil {
		t.Fatalf("lab capture missing: %v", err)
	}
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	tf := loadTruth(t, plain)
	read := func(path string) *capture.Result {
		res, err := pcapfile.ReadFiles(context.Background(), []string{path}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var hosts []netip.Addr
	for _, g := range tf.Gateway {
		hosts = append(hosts, netip.MustParseAddr(g))
	}
	want, err := Audit(read(plain), Options{Products: []*catalog.Product{prod}, Hosts: hosts, Features: tf.Features})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Audit(read(moveInbound(t, plain)), Options{Products: []*catalog.Product{prod}, Features: tf.Features})
	if err != nil {
		t.Fatal(err)
	}
	wantHosts := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"),
		netip.MustParseAddr("2001:db8:a::10"), netip.MustParseAddr("2001:db8:a::11")}
	if !slices.Equal(got.Hosts.Addrs, wantHosts) {
		t.Fatalf("hosts %v (%s), want %v", got.Hosts.Addrs, got.Hosts.How, wantHosts)
	}
	for _, f := range got.Hosts.Found {
		if f.How != "link layer: source MAC de:aa:26:d0:0d:65" {
			t.Errorf("%s found by %q, want the gateway's MAC", f.Addr, f.How)
		}
	}
	if len(got.Requirements) != len(want.Requirements) {
		t.Fatalf("%d requirements, want %d", len(got.Requirements), len(want.Requirements))
	}
	for i, r := range got.Requirements {
		w := want.Requirements[i]
		if r.ID != w.ID || r.Status != w.Status || r.Reason != w.Reason {
			t.Errorf("%s: %s %s, with --host on the plain capture %s %s", r.ID, r.Status, r.Reason, w.Status, w.Reason)
		}
	}
	for _, id := range []string{"in-tcp-25-smtp", "in-tcp-80-web"} {
		i := slices.IndexFunc(got.Requirements, func(r Requirement) bool { return strings.HasSuffix(r.ID, "/"+id) })
		if i < 0 || got.Requirements[i].Status == NeverSeen {
			t.Errorf("%s: never seen: the second address was missed", id)
		}
	}
	if len(got.Unexpected) != len(want.Unexpected) || got.Summary.Transit != 0 {
		t.Errorf("unexpected %d (want %d), transit %d (want 0)", len(got.Unexpected), len(want.Unexpected), got.Summary.Transit)
	}
}
