package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Capture-file builders for the reader tests. pcapgo writes little-endian
// files; big-endian pcap and pcapng are written by hand, field by field.

// testFrame is one frame to write: Iface selects the pcapng interface.
type testFrame struct {
	TS      int64 // Unix ns
	Data    []byte
	WireLen int // 0: len(Data)
	Iface   int
	Dropped uint64 // pcapng EPB drop count option when non-zero
}

func (f testFrame) wire() int {
	if f.WireLen == 0 {
		return len(f.Data)
	}
	return f.WireLen
}

// marked returns an Ethernet/IPv4/UDP frame whose UDP source port carries
// a marker, so a reader test can tell frames apart after aliasing.
func marked(marker uint16) []byte {
	f := make([]byte, 14+20+8+4)
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:4], 32)
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{198, 51, 100, 2})
	binary.BigEndian.PutUint16(ip[20:22], marker)
	binary.BigEndian.PutUint16(ip[22:24], 53)
	binary.BigEndian.PutUint16(ip[24:26], 12)
	return f
}

func writePcap(t testing.TB, path string, link layers.LinkType, nanos bool, frames []testFrame) {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: len(f.Data), Length: f.wire()}
		if err := w.WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, path, buf.Bytes())
}

// pcapBE writes a big-endian pcap by hand.
func pcapBE(link layers.LinkType, nanos bool, frames []testFrame) []byte {
	be := binary.BigEndian
	magic := uint32(0xa1b2c3d4)
	div := int64(1000)
	if nanos {
		magic, div = 0xa1b23c4d, 1
	}
	h := make([]byte, 24)
	be.PutUint32(h[0:4], magic)
	be.PutUint16(h[4:6], 2)
	be.PutUint16(h[6:8], 4)
	be.PutUint32(h[16:20], 65535)
	be.PutUint32(h[20:24], uint32(link))
	for _, f := range frames {
		r := make([]byte, 16)
		be.PutUint32(r[0:4], uint32(f.TS/1e9))
		be.PutUint32(r[4:8], uint32(f.TS%1e9/div))
		be.PutUint32(r[8:12], uint32(len(f.Data)))
		be.PutUint32(r[12:16], uint32(f.wire()))
		h = append(append(h, r...), f.Data...)
	}
	return h
}

// writePcapng writes a little-endian pcapng with one interface per link
// type, through pcapgo's writer.
func writePcapng(t testing.TB, path string, links []layers.LinkType, frames []testFrame) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: links[0], SnapLength: 65535,
		TimestampResolution: 9}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links[1:] {
		if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: l, SnapLength: 65535, TimestampResolution: 9}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: len(f.Data), Length: f.wire(),
			InterfaceIndex: f.Iface}
		var opts pcapgo.NgPacketOptions
		if f.Dropped != 0 {
			d := f.Dropped
			opts.DropCount = &d
		}
		if err := w.WritePacketWithOptions(ci, f.Data, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

// pcapngBE writes a big-endian pcapng by hand: SHB, one IDB per link type
// (microsecond resolution, the default), EPBs with a drop-count option.
func pcapngBE(links []layers.LinkType, frames []testFrame) []byte {
	be := binary.BigEndian
	var out []byte
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		out = be.AppendUint32(out, typ)
		out = be.AppendUint32(out, n)
		out = append(out, body...)
		out = be.AppendUint32(out, n)
	}
	shb := be.AppendUint32(nil, 0x1a2b3c4d)
	shb = be.AppendUint16(shb, 1)
	shb = be.AppendUint16(shb, 0)
	shb = be.AppendUint64(shb, ^uint64(0)) // section length unknown
	block(0x0a0d0d0a, shb)
	for _, l := range links {
		idb := be.AppendUint16(nil, uint16(l))
		idb = be.AppendUint16(idb, 0)
		idb = be.AppendUint32(idb, 65535)
		block(1, idb)
	}
	for _, f := range frames {
		us := uint64(f.TS / 1000)
		epb := be.AppendUint32(nil, uint32(f.Iface))
		epb = be.AppendUint32(epb, uint32(us>>32))
		epb = be.AppendUint32(epb, uint32(us))
		epb = be.AppendUint32(epb, uint32(len(f.Data)))
		epb = be.AppendUint32(epb, uint32(f.wire()))
		epb = append(epb, f.Data...)
		for len(epb)%4 != 0 {
			epb = append(epb, 0)
		}
		if f.Dropped != 0 {
			epb = be.AppendUint16(epb, 4) // epb_dropcount
			epb = be.AppendUint16(epb, 8)
			epb = be.AppendUint64(epb, f.Dropped)
			epb = append(epb, 0, 0, 0, 0) // opt_endofopt
		}
		block(6, epb)
	}
	return out
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tmp(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }

// arpFrame is an Ethernet ARP request: a valid frame carrying no IP.
func arpFrame() []byte {
	f := make([]byte, 14+28)
	binary.BigEndian.PutUint16(f[12:14], 0x0806)
	return f
}
