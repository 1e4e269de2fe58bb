package pcapfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/decode"
)

// gotFrame is a Frame with its data copied out of the reader's buffer.
type gotFrame struct {
	TS       int64
	WireLen  int
	LinkType layers.LinkType
	Dropped  uint64
	Data     []byte
}

// readFrames reads a source to its end, copying every frame.
func readFrames(t testing.TB, src capture.FrameReader) ([]gotFrame, error) {
	t.Helper()
	var out []gotFrame
	var f capture.Frame
	for {
		err := src.Next(&f)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, gotFrame{f.TS, f.WireLen, f.LinkType, f.Dropped, append([]byte(nil), f.Data...)})
	}
}

func TestOpenFileFormats(t *testing.T) {
	// Whole-microsecond timestamps, so µs files keep them exactly.
	frames := []testFrame{
		{TS: 1_700_000_000_000_001_000, Data: marked(1)},
		{TS: 1_700_000_000_500_000_000, Data: marked(2), WireLen: 1514},
		{TS: 1_700_000_001_000_000_000, Data: marked(3), Dropped: 7},
	}
	nsFrames := []testFrame{{TS: 1_700_000_000_000_000_001, Data: marked(9)}}
	eth := layers.LinkTypeEthernet
	want := func(fs []testFrame, links []layers.LinkType, drops bool) []gotFrame {
		var out []gotFrame
		for _, f := range fs {
			g := gotFrame{TS: f.TS, WireLen: f.wire(), LinkType: links[f.Iface], Data: f.Data}
			if drops {
				g.Dropped = f.Dropped
			}
			out = append(out, g)
		}
		return out
	}
	mixed := []testFrame{
		{TS: 1e18, Data: marked(1), Iface: 0},
		{TS: 1e18 + 1000, Data: marked(2)[14:], Iface: 1, Dropped: 3},
		{TS: 1e18 + 2000, Data: append(make([]byte, 20), marked(3)[14:]...), Iface: 2},
		{TS: 1e18 + 3000, Data: marked(4), Iface: 0, Dropped: 1 << 31},
	}
	mixed[2].Data[0], mixed[2].Data[1] = 0x08, 0x00 // SLL2 protocol: IPv4
	mixedLinks := []layers.LinkType{eth, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL2}

	cases := []struct {
		name  string
		build func(t *testing.T, path string)
		want  []gotFrame
	}{
		{"pcap-le-us", func(t *testing.T, p string) { writePcap(t, p, eth, false, frames) }, want(frames, []layers.LinkType{eth}, false)},
		{"pcap-le-ns", func(t *testing.T, p string) { writePcap(t, p, eth, true, nsFrames) }, want(nsFrames, []layers.LinkType{eth}, false)},
		{"pcap-be-us", func(t *testing.T, p string) { writeFile(t, p, pcapBE(eth, false, frames)) }, want(frames, []layers.LinkType{eth}, false)},
		{"pcap-be-ns", func(t *testing.T, p string) { writeFile(t, p, pcapBE(eth, true, nsFrames)) }, want(nsFrames, []layers.LinkType{eth}, false)},
		{"pcap-sll2", func(t *testing.T, p string) { writePcap(t, p, layers.LinkTypeLinuxSLL2, false, mixed[2:3]) },
			want(mixed[2:3], []layers.LinkType{0, 0, layers.LinkTypeLinuxSLL2}, false)},
		{"pcapng-le-3-interfaces-drops", func(t *testing.T, p string) { writePcapng(t, p, mixedLinks, mixed) }, want(mixed, mixedLinks, true)},
		{"pcapng-be-3-interfaces-drops", func(t *testing.T, p string) { writeFile(t, p, pcapngBE(mixedLinks, mixed)) }, want(mixed, mixedLinks, true)},
		{"pcap-gz", func(t *testing.T, p string) {
			writePcap(t, p, eth, false, frames)
			writeFile(t, p, gz(t, readAll(t, p)))
		}, want(frames, []layers.LinkType{eth}, false)},
		{"pcapng-gz-named-pcap", func(t *testing.T, p string) {
			writeFile(t, p, gz(t, pcapngBE(mixedLinks, mixed)))
		}, want(mixed, mixedLinks, true)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := tmp(t, "x.pcap")
			c.build(t, path)
			src, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := readFrames(t, src)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d frames, want %d", len(got), len(c.want))
			}
			d := decode.NewDecoder()
			for i := range got {
				g, w := got[i], c.want[i]
				if g.TS != w.TS || g.WireLen != w.WireLen || g.LinkType != w.LinkType || g.Dropped != w.Dropped || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("frame %d: got %+v\nwant %+v", i, g, w)
				}
				var p decode.Packet
				if err := d.Decode(g.Data, g.LinkType, &p); err != nil {
					t.Errorf("frame %d: decode as %v: %v", i, g.LinkType, err)
				}
			}
		})
	}
}

// TestTruncatedFiles cuts generated files at every byte: each cut yields
// the frames wholly before it and then an error naming the file that wraps
// io.ErrUnexpectedEOF (or opens with an error, when the cut is inside the
// file header).
func TestTruncatedFiles(t *testing.T) {
	frames := []testFrame{{TS: 1e18, Data: marked(1)}, {TS: 2e18, Data: marked(2)}, {TS: 3e18, Data: marked(3)}}
	links := []layers.LinkType{layers.LinkTypeEthernet}
	dir := t.TempDir()
	build := map[string]func(fs []testFrame) []byte{
		"pcap": func(fs []testFrame) []byte {
			p := tmp(t, "whole.pcap")
			writePcap(t, p, links[0], false, fs)
			return readAll(t, p)
		},
		"pcapng": func(fs []testFrame) []byte {
			p := tmp(t, "whole.pcapng")
			writePcapng(t, p, links, fs)
			return readAll(t, p)
		},
		"pcapng-be": func(fs []testFrame) []byte { return pcapngBE(links, fs) },
	}
	files := map[string][]byte{}
	for name, b := range build {
		full := b(frames)
		files[name] = full
		// A cut at a record boundary is a valid, shorter file.
		boundary := map[int]int{}
		for k := range len(frames) + 1 {
			boundary[len(b(frames[:k]))] = k
		}
		if name != "pcap" {
			boundary[28] = 0 // a section header block alone: no interface yet
		}
		for cut := 1; cut < len(full); cut++ {
			path := filepath.Join(dir, "cut."+name)
			src, err := newFileSource(path, bytes.NewReader(full[:cut]))
			if err != nil {
				if !strings.HasPrefix(err.Error(), "open capture "+path+": ") {
					t.Errorf("%s cut %d: open error %q does not name the file", name, cut, err)
				}
				continue
			}
			got, err := readFrames(t, src)
			src.Close()
			if k, ok := boundary[cut]; ok {
				if err != nil || len(got) != k {
					t.Errorf("%s cut %d at a record boundary: %d frames and %v, want %d and a clean end", name, cut, len(got), err, k)
				}
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut %d of %d: got %d frames and %v, want io.ErrUnexpectedEOF", name, cut, len(full), len(got), err)
				continue
			}
			if !strings.HasPrefix(err.Error(), "read capture "+path+": ") {
				t.Errorf("%s cut %d: error %q does not name the file", name, cut, err)
			}
			for i, g := range got {
				if !bytes.Equal(g.Data, frames[i].Data) {
					t.Errorf("%s cut %d: frame %d damaged", name, cut, i)
				}
			}
		}
	}
	// A truncated gzip stream is a truncation too.
	gzPath := tmp(t, "cut.pcap.gz")
	whole := gz(t, files["pcap"])
	writeFile(t, gzPath, whole[:len(whole)-12])
	src, err := Open(gzPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readFrames(t, src)
	src.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) == 0 {
		t.Errorf("truncated gzip: %d frames, %v", len(got), err)
	}
}

func TestOpenFileErrors(t *testing.T) {
	header := pcapBE(layers.LinkTypeEthernet, false, nil)
	kuz := append([]byte(nil), header...)
	binary.LittleEndian.PutUint32(kuz[0:4], 0xa1b2cd34)
	cases := []struct {
		name, content string
		missing       bool
		want          string
		wrap          error
	}{
		{name: "missing", missing: true, want: "no such file or directory"},
		{name: "empty", content: "", want: "empty file: not a pcap or pcapng file", wrap: ErrNotCapture},
		{name: "text", content: "hello, this is not a capture\n", want: "not a pcap or pcapng file", wrap: ErrNotCapture},
		{name: "tiny", content: "ab", want: "not a pcap or pcapng file", wrap: ErrNotCapture},
		{name: "gzip-of-text", content: string(gz(t, []byte("plain text inside gzip"))), want: "not a pcap or pcapng file", wrap: ErrNotCapture},
		{name: "bad-gzip", content: "\x1f\x8bxxxxxxxxxxxxxxxxxxx", want: "read gzip header: gzip: invalid header"},
		{name: "pcap-header-cut", content: string(header[:10]), want: "pcap header: unexpected EOF", wrap: io.ErrUnexpectedEOF},
		{name: "kuznetzov", content: string(kuz), want: "modified (Kuznetzov) pcap", wrap: ErrNotCapture},
		{name: "pcapng-bad-byte-order", content: "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x01\x02\x03\x04" + strings.Repeat("\x00", 16), want: "pcapng header: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := tmp(t, c.name)
			if !c.missing {
				writeFile(t, path, []byte(c.content))
			}
			src, err := Open(path)
			if err == nil {
				src.Close()
				t.Fatal("opened")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "open capture "+path+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line %q naming the file", msg, c.want)
			}
			if c.wrap != nil && !errors.Is(err, c.wrap) {
				t.Errorf("error %q does not wrap %v", msg, c.wrap)
			}
		})
	}
}

// TestPcapngInterfaceStatistics: ISB drop counts (cumulative, per
// interface) are reported beyond the EPB drop counts already delivered.
func TestPcapngInterfaceStatistics(t *testing.T) {
	var buf bytes.Buffer
	eth := layers.LinkTypeEthernet
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: eth, TimestampResolution: 9}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, TimestampResolution: 9}); err != nil {
		t.Fatal(err)
	}
	drop := uint64(3)
	data := marked(1)
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(data), Length: len(data)}
	if err := w.WritePacketWithOptions(ci, data, pcapgo.NgPacketOptions{DropCount: &drop}); err != nil {
		t.Fatal(err)
	}
	stats := func(iface int, dropped uint64) {
		t.Helper()
		st := pcapgo.NgInterfaceStatistics{LastUpdate: time.Unix(2, 0), PacketsReceived: pcapgo.NgNoValue64, PacketsDropped: dropped}
		if err := w.WriteInterfaceStats(iface, st); err != nil {
			t.Fatal(err)
		}
	}
	stats(0, 6)                  // cumulative: superseded by the next one
	stats(0, 10)                 // 10 in all, 3 already in Frame.Dropped
	stats(1, 4)                  // no EPB drops on this interface
	stats(1, pcapgo.NgNoValue64) // statistics without a drop count
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := tmp(t, "isb.pcapng")
	writeFile(t, path, buf.Bytes())
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readFrames(t, src)
	if err != nil || len(got) != 1 || got[0].Dropped != 3 {
		t.Fatalf("frames %+v, %v", got, err)
	}
	c, ok := src.(capture.InterfaceDropCounter)
	if !ok {
		t.Fatal("pcapng source does not implement InterfaceDropCounter")
	}
	if n := c.InterfaceDrops(); n != 7+4 {
		t.Errorf("InterfaceDrops = %d, want 11", n)
	}
	// The pipeline adds both kinds: 3 per-packet drops + 11 from statistics.
	res, err := ReadFiles(context.Background(), []string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.IfaceDrops != 3+11 {
		t.Errorf("Stats.IfaceDrops = %d, want 14", res.Stats.IfaceDrops)
	}
}
