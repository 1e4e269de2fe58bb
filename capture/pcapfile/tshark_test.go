package pcapfile

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/decode"
)

// TestDecodeAgreesWithTshark compares, frame by frame, the outer IP
// addresses and TCP/UDP ports that OpenFile+Decode find in the Zeek,
// zeek-extra and Suricata corpora with what tshark finds (an independent
// dissector). Frames tshark reassembles (non-first IP fragments, where it
// shows no ports on the first fragment) are the known exception. tshark
// takes about a second per file, so the test runs only when asked:
//
//	FLOWAUDIT_TSHARK=1 go test -run Tshark -v ./capture/
func TestDecodeAgreesWithTshark(t *testing.T) {
	if os.Getenv("FLOWAUDIT_TSHARK") == "" {
		t.Skip("set FLOWAUDIT_TSHARK=1 to compare with tshark (about 45 s)")
	}
	corpus := sharedCorpus(t)
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	var files []string
	for _, pat := range []string{"zeek/*.pcap", "zeek/*.pcapng", "zeek-extra/*.pcap", "suricata/*.pcap"} {
		m, _ := filepath.Glob(filepath.Join(corpus, pat))
		files = append(files, m...)
	}
	total, agree := 0, 0
	for _, path := range files {
		rel, _ := filepath.Rel(corpus, path)
		out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "occurrence=f",
			"-e", "frame.number", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
			"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport",
			"-e", "ip.flags.mf", "-e", "ip.frag_offset").Output()
		if err != nil {
			t.Fatalf("%s: tshark: %v", rel, err)
		}
		ours := decodeSummary(t, path)
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			c := strings.Split(sc.Text(), "\t")
			if len(c) < 11 {
				continue
			}
			n, _ := strconv.Atoi(c[0])
			src, dst := c[1], c[2]
			if src == "" {
				src, dst = c[3], c[4]
			}
			fragment := c[9] == "1" || c[9] == "True" || (c[10] != "" && c[10] != "0")
			want := "-"
			if src != "" {
				want = src + " " + dst
			}
			got := ours[n]
			if got.addrs == "-" && dst == "" {
				continue // tshark shows a source only: its dissection stopped too
			}
			total++
			ok := got.addrs == want || (want != "-" && strings.HasPrefix(got.addrs, src+" ") && dst == "")
			if ok && !fragment {
				switch got.proto {
				case 6:
					ok = got.ports == c[5]+" "+c[6]
				case 17:
					ok = got.ports == c[7]+" "+c[8]
				}
			}
			if ok {
				agree++
			} else {
				t.Errorf("%s frame %d: decoded %q proto %d ports %q; tshark %q tcp %s/%s udp %s/%s",
					rel, n, got.addrs, got.proto, got.ports, want, c[5], c[6], c[7], c[8])
			}
		}
	}
	t.Logf("%d of %d frames agree with tshark", agree, total)
	if total < 3000 {
		t.Errorf("only %d frames compared", total)
	}
}

type frameSummary struct {
	addrs string
	proto uint8
	ports string
}

// decodeSummary decodes every frame of a file: frame number -> summary.
func decodeSummary(t *testing.T, path string) map[int]frameSummary {
	t.Helper()
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := map[int]frameSummary{}
	d := decode.NewDecoder()
	var f capture.Frame
	var p decode.Packet
	for n := 1; src.Next(&f) == nil; n++ {
		p.TS = f.TS
		if err := d.Decode(f.Data, f.LinkType, &p); err != nil {
			out[n] = frameSummary{addrs: "-"}
			continue
		}
		out[n] = frameSummary{p.Src.String() + " " + p.Dst.String(), p.Proto, fmt.Sprintf("%d %d", p.SrcPort, p.DstPort)}
	}
	return out
}
