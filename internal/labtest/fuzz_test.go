package labtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// FuzzParseTruth: any input gives a Truth that passed validation or an
// error, never a panic; accepted flows have parseable addresses.
func FuzzParseTruth(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input, and a committed
	// truth file (15 KB) makes that take longer than a CI fuzz run.
	f.Add([]byte(`scenario: s
product: mailcleaner
gateway: ["192.0.2.10", "2001:db8:a::10"]
flows:
  - {row: "1.dns", direction: out, protocol: udp, family: ipv4, gateway: "192.0.2.10", peer: "198.51.100.53", port: 53, outcome: established, captured: true}
  - {row: "2", direction: in, protocol: tcp, family: ipv6, gateway: "2001:db8:a::10", peer: "2001:db8:b::10", port: 443, outcome: not-captured, reason: "filtered-before-gateway", captured: false, expect: required}
ports:
  - {direction: out, protocol: udp, port: 53, status: ok, established: 1, failed: 0, reasons: ""}
`))
	f.Add([]byte("scenario: x\ngateway: [\"192.0.2.1\"]\nflows: [{direction: in, protocol: udp, gateway: \"192.0.2.1\", peer: \"::1\", outcome: not-captured}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTruth(b)
		if err != nil {
			return
		}
		for i := range tr.Flows {
			if !tr.Flows[i].Orig().IsValid() || !tr.Flows[i].Resp().IsValid() {
				t.Fatalf("accepted flow %+v with an invalid address", tr.Flows[i])
			}
		}
	})
}

// FuzzObserve feeds arbitrary frames (seeded with the committed
// captures' packets) to the packet classifier: no panic, and ICMP quotes
// shorter than a header are refused.
func FuzzObserve(f *testing.F) {
	path := filepath.Join("..", "..", "testdata", "example", "gateway.pcap")
	tr, err := LoadTruth(TruthPath(path))
	if err != nil {
		f.Skip(err)
	}
	if fh, err := os.Open(path); err == nil {
		r, err := pcapgo.NewReader(fh)
		if err == nil {
			for {
				data, _, err := r.ReadPacketData()
				if err != nil {
					break
				}
				f.Add(append([]byte(nil), data...))
			}
		}
		fh.Close()
	}
	want := map[group][]string{}
	for i := range tr.Flows {
		fl := &tr.Flows[i]
		want[group{fl.Protocol, fl.Orig(), fl.Resp(), fl.Port}] = nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seen := map[conn]*connState{}
		state := func(c conn) *connState {
			if seen[c] == nil {
				seen[c] = &connState{}
			}
			return seen[c]
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.NoCopy)
		observe(p, want, state, &Evidence{})
		for c := range seen {
			if _, ok := want[c.group]; !ok {
				t.Fatalf("filed a packet under %+v, which the truth does not hold", c)
			}
		}
		quoted(false, data)
		quoted(true, data)
	})
}
