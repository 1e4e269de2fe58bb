package pcapfile

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/decode"
)

// BenchmarkReadDecode times OpenFile + Next + Decode over a generated
// capture (pcap and pcapng), or over the file named by
// FLOWAUDIT_BENCH_PCAP (for example the `make bench` capture):
//
//	FLOWAUDIT_BENCH_PCAP=testdata/bench/out/synth.pcap go test -run '^$' -bench ReadDecode ./capture/pcapfile/
func BenchmarkReadDecode(b *testing.B) {
	files := map[string]string{}
	if p := os.Getenv("FLOWAUDIT_BENCH_PCAP"); p != "" {
		if !filepath.IsAbs(p) {
			p = filepath.Join("..", "..", p)
		}
		files["env"] = p
	} else {
		dir := b.TempDir()
		var frames []testFrame
		for i := range 100_000 {
			frames = append(frames, testFrame{TS: int64(i) * 1000, Data: marked(uint16(i))})
		}
		files["pcap"] = filepath.Join(dir, "a.pcap")
		writePcap(b, files["pcap"], layers.LinkTypeEthernet, false, frames)
		files["pcapng"] = filepath.Join(dir, "a.pcapng")
		writePcapng(b, files["pcapng"], []layers.LinkType{layers.LinkTypeEthernet}, frames)
	}
	for name, path := range files {
		b.Run(name, func(b *testing.B) {
			var frames, bytes int
			for b.Loop() {
				frames, bytes = readDecodeAll(b, path)
			}
			b.ReportMetric(float64(frames)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
			b.SetBytes(int64(bytes))
		})
	}
}

func readDecodeAll(b *testing.B, path string) (frames, bytes int) {
	src, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	d := decode.NewDecoder()
	var f capture.Frame
	var p decode.Packet
	for {
		if err := src.Next(&f); err != nil {
			if err != io.EOF {
				b.Fatal(err)
			}
			return frames, bytes
		}
		frames++
		bytes += len(f.Data) + 16
		p.TS, p.WireLen = f.TS, f.WireLen
		d.Decode(f.Data, f.LinkType, &p)
	}
}
