package naming

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// segment is a transport payload from a corpus capture.
type segment struct {
	ts       int64
	src, dst netip.Addr
	sport    uint16
	dport    uint16
	udp      bool
	payload  []byte
}

// readSegments returns the UDP and TCP payloads of ../shared/corpus/<name>,
// skipping the test when the shared corpus is absent.
func readSegments(t *testing.T, name string) []segment {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "corpus", name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared corpus absent: %s", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("open capture %s: %v", path, err)
	}
	var segs []segment
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		var s segment
		if n := p.NetworkLayer(); n != nil {
			s.src, _ = netip.AddrFromSlice(n.NetworkFlow().Src().Raw())
			s.dst, _ = netip.AddrFromSlice(n.NetworkFlow().Dst().Raw())
		}
		switch l := p.TransportLayer().(type) {
		case *layers.UDP:
			s.sport, s.dport, s.udp, s.payload = uint16(l.SrcPort), uint16(l.DstPort), true, l.Payload
		case *layers.TCP:
			s.sport, s.dport, s.payload = uint16(l.SrcPort), uint16(l.DstPort), l.Payload
		default:
			continue
		}
		s.ts = ci.Timestamp.UnixNano()
		segs = append(segs, s)
	}
	return segs
}

// TestCorpusWikipediaDNS feeds the UDP/53 payloads of Zeek's wikipedia.pcap
// through ObserveDNS, queries and answers, each answer after its query. The
// expectations come from tshark's reading of the same answers (see
// docs/naming.md).
func TestCorpusWikipediaDNS(t *testing.T) {
	r := NewCache()
	var responses, queries int
	var upload, meta int64 // time of the last answer for each name
	for _, s := range readSegments(t, "zeek/wikipedia.pcap") {
		if !s.udp || (s.sport != 53 && s.dport != 53) {
			continue
		}
		tr := Transport{Src: netip.AddrPortFrom(s.src, s.sport), Dst: netip.AddrPortFrom(s.dst, s.dport)}
		switch err := r.ObserveDNS(s.payload, s.ts, tr); {
		case s.dport == 53:
			queries++
			if err != nil {
				t.Errorf("query at %d: %v", s.ts, err)
			}
		case err != nil:
			t.Errorf("response at %d: %v", s.ts, err)
		default:
			responses++
			// The two A answers are the 183- and 198-byte
			// responses in tcpdump's listing.
			if len(s.payload) == 183 {
				upload = s.ts
			}
			if len(s.payload) == 198 {
				meta = s.ts
			}
		}
	}
	if queries != 14 || responses != 14 {
		t.Errorf("%d queries, %d responses; tcpdump shows 14 and 14", queries, responses)
	}
	if upload == 0 || meta == 0 {
		t.Fatal("the A answers for upload and meta.wikimedia.org were not seen")
	}
	grace := int64(DefaultGrace)
	for _, c := range []lookup{
		// upload.wikimedia.org CNAME (TTL 124) upload.pmtpa.wikimedia.org A (TTL 2156) 208.80.152.3
		{"208.80.152.3", upload, []string{"upload.wikimedia.org", "upload.pmtpa.wikimedia.org"}},
		{"208.80.152.3", upload + 124*sec + grace + 1, []string{"upload.pmtpa.wikimedia.org"}},
		{"208.80.152.3", upload + 2156*sec + grace + 1, nil},
		// meta (723) -> text (593) -> text.pmtpa (2141) A 208.80.152.2
		{"208.80.152.2", meta, []string{"meta.wikimedia.org", "text.wikimedia.org", "text.pmtpa.wikimedia.org"}},
		{"208.80.152.2", meta + 593*sec + grace + 1, []string{"text.pmtpa.wikimedia.org"}},
		// ns0.wikimedia.org's glue in the additional section names no answer.
		{"208.80.152.130", meta, nil},
	} {
		if got := r.Names(netip.MustParseAddr(c.addr), c.ts); !slices.Equal(got, c.want) {
			t.Errorf("Names(%s, %+ds) = %q, want %q", c.addr, (c.ts-meta)/sec, got, c.want)
		}
	}
}

// TestCorpusServerNames runs ServerName over the client payloads of real
// HTTP (wikipedia.pcap) and TLS (Suricata's bug-2646-01.pcap) sessions; the
// expected names are what tshark reports as http.host and
// tls.handshake.extensions_server_name.
func TestCorpusServerNames(t *testing.T) {
	tests := []struct {
		file string
		port uint16
		want []string // "destination name", sorted
	}{
		{"zeek/wikipedia.pcap", 80, []string{
			"208.80.152.118 bits.wikimedia.org",
			"208.80.152.2 meta.wikimedia.org",
			"208.80.152.2 www.wikipedia.org",
			"208.80.152.3 upload.wikimedia.org",
		}},
		{"suricata/bug-2646-01.pcap", 443, []string{"151.101.36.133 raw.githubusercontent.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var got []string
			for _, s := range readSegments(t, tt.file) {
				if s.udp || s.dport != tt.port {
					continue
				}
				if name, ok := ServerName(s.payload); ok {
					got = append(got, s.dst.String()+" "+string(name))
				}
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("names = %q, want %q", got, tt.want)
			}
		})
	}
}
