package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
)

func TestOpenFilesMergesInTimeOrder(t *testing.T) {
	dir := t.TempDir()
	eth := layers.LinkTypeEthernet
	a := filepath.Join(dir, "a.pcap")
	b := filepath.Join(dir, "b.pcapng")
	c := filepath.Join(dir, "c.pcap.gz")
	// Markers: 100s from a, 200s from b, 300s from c; timestamps interleave
	// and a tie (ts 30) must go to the earlier file in the list.
	writePcap(t, a, eth, true, []testFrame{{TS: 10, Data: marked(101)}, {TS: 30, Data: marked(102)}, {TS: 60, Data: marked(103)}})
	writePcapng(t, b, []layers.LinkType{eth, layers.LinkTypeRaw}, []testFrame{
		{TS: 20, Data: marked(201)}, {TS: 30, Data: marked(202)[14:], Iface: 1, Dropped: 5}, {TS: 70, Data: marked(203)}})
	writeFile(t, c, gz(t, pcapBE(eth, true, []testFrame{{TS: 5, Data: marked(301)}, {TS: 65, Data: marked(302)}})))

	src, err := OpenMerged([]string{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readFrames(t, src)
	if err != nil {
		t.Fatal(err)
	}
	wantMarkers := []uint16{301, 101, 201, 102, 202, 103, 302, 203}
	if len(got) != len(wantMarkers) {
		t.Fatalf("got %d frames, want %d", len(got), len(wantMarkers))
	}
	for i, g := range got {
		if m := markerOf(g); m != wantMarkers[i] {
			t.Errorf("frame %d: marker %d, want %d", i, m, wantMarkers[i])
		}
		if i > 0 && g.TS < got[i-1].TS {
			t.Errorf("frame %d: time goes backwards", i)
		}
	}
	if got[4].Dropped != 5 || got[4].LinkType != layers.LinkTypeRaw {
		t.Errorf("pcapng frame lost its interface or drop count: %+v", got[4])
	}
}

// markerOf reads the UDP source port written by marked, for Ethernet or
// raw IPv4 frames.
func markerOf(g gotFrame) uint16 {
	d := g.Data
	if g.LinkType == layers.LinkTypeEthernet {
		d = d[14:]
	}
	return binary.BigEndian.Uint16(d[20:22])
}

// TestOpenFilesDamagedFile: a truncated file among good ones loses none of
// the good files' frames; its error comes at the end instead of io.EOF.
func TestOpenFilesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	eth := layers.LinkTypeEthernet
	good := filepath.Join(dir, "good.pcap")
	bad := filepath.Join(dir, "bad.pcap")
	writePcap(t, good, eth, false, []testFrame{{TS: 1e9, Data: marked(1)}, {TS: 3e9, Data: marked(3)}, {TS: 5e9, Data: marked(5)}})
	writePcap(t, bad, eth, false, []testFrame{{TS: 2e9, Data: marked(2)}, {TS: 4e9, Data: marked(4)}})
	full := readAll(t, bad)
	writeFile(t, bad, full[:len(full)-5])

	src, err := OpenMerged([]string{good, bad})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readFrames(t, src)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "read capture "+bad+": ") {
		t.Fatalf("got %v, want a truncation error naming %s", err, bad)
	}
	var markers []uint16
	for _, g := range got {
		markers = append(markers, markerOf(g))
	}
	if want := []uint16{1, 2, 3, 5}; !equalU16(markers, want) {
		t.Errorf("markers %v, want %v", markers, want)
	}
	var f capture.Frame
	if err2 := src.Next(&f); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("Next after the end: %v, want the same error again", err2)
	}
}

func equalU16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenFilesErrors(t *testing.T) {
	if _, err := OpenMerged(nil); err == nil {
		t.Error("no files: no error")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pcap")
	writePcap(t, good, layers.LinkTypeEthernet, false, nil)
	missing := filepath.Join(dir, "missing.pcap")
	_, err := OpenMerged([]string{good, missing})
	if err == nil || !strings.HasPrefix(err.Error(), "open capture "+missing+": ") {
		t.Errorf("missing second file: %v", err)
	}
}

// TestNextAllocatesNothing: reading a pcap or pcapng file costs no
// allocation per frame in steady state, merged or not.
func TestNextAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	var frames []testFrame
	for i := range 3000 {
		frames = append(frames, testFrame{TS: int64(i) * 1000, Data: marked(uint16(i))})
	}
	pcap := filepath.Join(dir, "a.pcap")
	writePcap(t, pcap, layers.LinkTypeEthernet, false, frames)
	ng := filepath.Join(dir, "b.pcapng")
	writePcapng(t, ng, []layers.LinkType{layers.LinkTypeEthernet}, frames)
	for name, paths := range map[string][]string{"pcap": {pcap}, "pcapng": {ng}, "merged": {pcap, ng}} {
		src, err := OpenMerged(paths)
		if err != nil {
			t.Fatal(err)
		}
		var f capture.Frame
		for range 10 { // warm up buffers
			src.Next(&f)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if err := src.Next(&f); err != nil {
				t.Fatal(err)
			}
		})
		src.Close()
		if allocs != 0 {
			t.Errorf("%s: %.2f allocations per Next, want 0", name, allocs)
		}
	}
}

// FuzzOpenFile reads arbitrary bytes as a capture file: no panic, no hang,
// and a read error always names the file.
func FuzzOpenFile(f *testing.F) {
	eth := layers.LinkTypeEthernet
	frames := []testFrame{{TS: 1e18, Data: marked(1), Dropped: 2}, {TS: 2e18, Data: marked(2)[14:], Iface: 1}}
	links := []layers.LinkType{eth, layers.LinkTypeRaw}
	f.Add(pcapBE(eth, false, frames[:1]))
	f.Add(pcapBE(eth, true, frames[:1]))
	f.Add(pcapngBE(links, frames))
	f.Add(gz(f, pcapngBE(links, frames)))
	dir := f.TempDir()
	le := filepath.Join(dir, "le.pcapng")
	writePcapng(f, le, links, frames)
	f.Add(readAll(f, le))
	f.Add([]byte{})
	// Headers that claim more than they hold (issue 10): a 4 GiB pcap
	// record, a pcapng packet over its block and over the bound, and the
	// blocks the reader drops.
	pcapHuge := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	pcapHuge = append(pcapHuge, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0)
	f.Add(append(pcapHuge, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0))
	frame := marked(3)
	f.Add((&ngb{}).shb().idb(0).epb(uint32(len(frame)), frame).epb(0xfffffff0, nil).out)
	f.Add((&ngb{}).shb().idb(64).epb(200, frame).out)
	f.Add((&ngb{}).shb().idb(0).block(4, []byte{1, 0, 8, 0, 192, 0, 2, 1, 'a', 0, 0, 0, 0, 0, 0, 0}).
		block(ngSPB, binary.LittleEndian.AppendUint32(nil, 0xfffffff0)).out)
	// The damaged files of the shared corpus, when present, are good
	// starting points: real-world oddities the builders do not make.
	if dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "corpus", "malformed")); err == nil {
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !isCaptureName(p) {
				return nil
			}
			if info, err := e.Info(); err == nil && info.Size() <= 16<<10 {
				if b, err := os.ReadFile(p); err == nil {
					f.Add(b)
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newFileSource("fuzz.pcap", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "open capture fuzz.pcap: ") {
				t.Fatalf("open error does not name the file: %v", err)
			}
			return
		}
		defer src.Close()
		var fr capture.Frame
		for n := 0; ; n++ {
			err := src.Next(&fr)
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "read capture fuzz.pcap: ") {
					t.Fatalf("read error does not name the file: %v", err)
				}
				return
			}
			if len(fr.Data) > len(data) || len(fr.Data) > MaxRecord || n > len(data) {
				t.Fatalf("frame %d of %d bytes from %d bytes of input", n, len(fr.Data), len(data))
			}
		}
	})
}

// TestOpenFilesSeveralDamaged: two truncated files give one error line
// naming both, and it still wraps io.ErrUnexpectedEOF.
func TestOpenFilesSeveralDamaged(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, name := range []string{"a.pcap", "b.pcap", "c.pcap"} {
		p := filepath.Join(dir, name)
		writePcap(t, p, layers.LinkTypeEthernet, false, []testFrame{{TS: int64(i), Data: marked(uint16(i))}, {TS: 10, Data: marked(9)}})
		if i > 0 {
			full := readAll(t, p)
			writeFile(t, p, full[:len(full)-3])
		}
		paths = append(paths, p)
	}
	src, err := OpenMerged(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readFrames(t, src)
	if len(got) != 4 {
		t.Errorf("got %d frames, want 4", len(got))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(err.Error(), paths[1]) || !strings.Contains(err.Error(), paths[2]) {
		t.Errorf("error %q: want one line naming %s and %s", err, paths[1], paths[2])
	}
}
