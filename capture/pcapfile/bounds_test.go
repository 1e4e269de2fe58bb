package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
)

// Tests for the bounds on capture records (issue 10, row 1): a record or
// block whose header claims more than the snap length or MaxRecord, or
// that does not fit its own length, ends the file's reading with
// ErrDamaged at its offset, having allocated no more than the bound.

// ngb builds a little-endian pcapng block by block.
type ngb struct{ out []byte }

func (b *ngb) block(typ uint32, body []byte) *ngb {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b.out = binary.LittleEndian.AppendUint32(b.out, typ)
	b.out = binary.LittleEndian.AppendUint32(b.out, n)
	b.out = append(b.out, body...)
	b.out = binary.LittleEndian.AppendUint32(b.out, n)
	return b
}

// clone returns a builder that appends to a copy.
func (b *ngb) clone() *ngb { return &ngb{out: bytes.Clone(b.out)} }

// raw appends bytes as they are (a block header that lies).
func (b *ngb) raw(words ...uint32) *ngb {
	for _, w := range words {
		b.out = binary.LittleEndian.AppendUint32(b.out, w)
	}
	return b
}

func (b *ngb) shb() *ngb {
	body := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	body = append(body, 1, 0, 0, 0)                           // version 1.0
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0)) // section length unknown
	return b.block(ngSHB, body)
}

func (b *ngb) idb(snaplen uint32) *ngb {
	body := []byte{byte(layers.LinkTypeEthernet), 0, 0, 0}
	return b.block(ngIDB, binary.LittleEndian.AppendUint32(body, snaplen))
}

// epb appends an enhanced packet block on interface 0 claiming caplen
// bytes of which data holds the first ones; opts are raw option bytes.
func (b *ngb) epb(caplen uint32, data []byte, opts ...byte) *ngb {
	body := binary.LittleEndian.AppendUint32(nil, 0) // interface
	body = binary.LittleEndian.AppendUint64(body, 0) // timestamp
	body = binary.LittleEndian.AppendUint32(body, caplen)
	body = binary.LittleEndian.AppendUint32(body, caplen)
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	return b.block(ngEPB, append(body, opts...))
}

func (b *ngb) isb(dropped uint64) *ngb {
	body := binary.LittleEndian.AppendUint32(nil, 0)
	body = binary.LittleEndian.AppendUint64(body, 0)
	body = append(body, 5, 0, 8, 0) // isb_ifdrop
	body = binary.LittleEndian.AppendUint64(body, dropped)
	return b.block(ngISB, append(body, 0, 0, 0, 0))
}

// zeroBomb returns gzip data that inflates to n MiB of zeros: one member
// of 16 MiB repeated (gzip.Reader reads concatenated members as one
// stream), so making a 1 GiB bomb costs one 16 MiB compression.
func zeroBomb(t testing.TB, mib int) []byte {
	t.Helper()
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	if _, err := zw.Write(make([]byte, 16<<20)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return bytes.Repeat(one.Bytes(), mib/16)
}

// readBounded reads path to its end or first error, returning the frames
// read, the bytes the process allocated meanwhile and the error.
func readBounded(t *testing.T, path string) (frames int, alloc uint64, err error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	src, err := Open(path)
	if err == nil {
		var fr capture.Frame
		for err = src.Next(&fr); err == nil; err = src.Next(&fr) {
			frames++
		}
		src.Close()
	}
	runtime.ReadMemStats(&after)
	return frames, after.TotalAlloc - before.TotalAlloc, err
}

// TestRecordBombs: a 1 MB gzip of a pcap or pcapng whose first or second
// record claims 4 GiB, followed by 1 GiB of zeros, stops at that record
// with ErrDamaged, its offset and the frames before it, and allocates a
// few MiB (the read buffers), not the gigabytes the header claims.
func TestRecordBombs(t *testing.T) {
	zeros := zeroBomb(t, 1024)
	frame := marked(1)
	pcapHead := func(snaplen uint32) []byte {
		h := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
		h = append(h, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		h = binary.LittleEndian.AppendUint32(h, snaplen)
		return binary.LittleEndian.AppendUint32(h, uint32(layers.LinkTypeEthernet))
	}
	record := func(caplen uint32, data []byte) []byte {
		r := make([]byte, 8, 16+len(data))
		r = binary.LittleEndian.AppendUint32(r, caplen)
		r = binary.LittleEndian.AppendUint32(r, caplen)
		return append(r, data...)
	}
	goodPcap := append(pcapHead(^uint32(0)), record(uint32(len(frame)), frame)...)
	ng := (&ngb{}).shb().idb(0).epb(uint32(len(frame)), frame)
	for _, tc := range []struct {
		name   string
		head   []byte // before the zeros
		frames int
		want   string
	}{
		{"pcap snaplen 0xffffffff", append(pcapHead(^uint32(0)), record(^uint32(0), nil)...), 0,
			"damaged at byte offset 24: record claims 4294967295 bytes, over the bound on any record (262144)"},
		{"pcap second record", append(goodPcap, record(^uint32(0), nil)...), 1,
			"after 1 frame: damaged at byte offset 86: record claims 4294967295 bytes"},
		{"pcapng huge block", ng.clone().raw(ngEPB, 0xfffffffc, 0, 0, 0, 0xfffffff0, 0xfffffff0).out, 1,
			"after 1 frame: damaged at byte offset 128: enhanced packet block has length 4294967292 (want at most 524288)"},
		{"pcapng caplen over the bound", ng.clone().epb(0xfffffff0, nil).out, 1,
			"damaged at byte offset 128: enhanced packet block claims 4294967280 bytes, over the bound on any record (262144)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bomb.gz")
			writeFile(t, path, append(gz(t, tc.head), zeros...))
			frames, alloc, err := readBounded(t, path)
			if frames != tc.frames {
				t.Errorf("%d frames, want %d", frames, tc.frames)
			}
			if err == nil || err == io.EOF || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s and saying %q", err, path, tc.want)
			}
			if !errors.Is(err, capture.ErrDamaged) {
				t.Errorf("error %v does not wrap ErrDamaged", err)
			}
			if alloc > 16<<20 {
				t.Errorf("reading allocated %d MiB, want a few (the read buffers)", alloc>>20)
			}
		})
	}
}

// TestDamagedRecords: each way a record or block header can contradict its
// file ends the reading there, with the frames before it kept and an
// error naming the file, the offset and what is wrong.
func TestDamagedRecords(t *testing.T) {
	frame := marked(1)
	big := make([]byte, 100)
	pcapHead := func(snaplen uint32) []byte {
		h := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
		h = append(h, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		h = binary.LittleEndian.AppendUint32(h, snaplen)
		return binary.LittleEndian.AppendUint32(h, uint32(layers.LinkTypeEthernet))
	}
	record := func(caplen uint32, data []byte) []byte {
		r := make([]byte, 8, 16+len(data))
		r = binary.LittleEndian.AppendUint32(r, caplen)
		r = binary.LittleEndian.AppendUint32(r, caplen)
		return append(r, data...)
	}
	start := func(snaplen uint32) *ngb { return (&ngb{}).shb().idb(snaplen).epb(uint32(len(frame)), frame) }
	badTrailer := start(0).epb(uint32(len(frame)), frame).out
	badTrailer[len(badTrailer)-1] = 0x7f
	spb := binary.LittleEndian.AppendUint32(nil, 0xfffffff0)
	manyIfaces := (&ngb{}).shb()
	name := append([]byte{2, 0, 0xfc, 0xff}, make([]byte, 0xfffc)...) // if_name of 65532 bytes
	for range 17 {
		manyIfaces.block(ngIDB, append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, name...))
	}
	beFrames := []testFrame{{TS: 1e9, Data: frame}, {TS: 2e9, Data: make([]byte, 70000)}}
	for _, tc := range []struct {
		name, want string
		data       []byte
		frames     int
	}{
		{"pcap record over the snap length", "damaged at byte offset 86: record claims 100 bytes, over the file's snap length (64)",
			append(append(pcapHead(64), record(uint32(len(frame)), frame)...), record(100, big)...), 1},
		{"pcapng packet over the snap length", "damaged at byte offset 128: enhanced packet block claims 100 bytes, over the interface's snap length (64)",
			start(64).epb(100, big).out, 1},
		{"pcapng packet over its block", "damaged at byte offset 128: enhanced packet block claims 200 bytes, more than its length of 132 holds",
			start(0).epb(200, big).out, 1},
		{"pcapng option over its block", "damaged at byte offset 128: enhanced packet block: option 1 runs past the block's end",
			start(0).epb(uint32(len(frame)), frame, 1, 0, 100, 0, 'x', 'y', 'z', 0).out, 1},
		{"pcapng lengths differ", "damaged at byte offset 128: enhanced packet block has length 80 at its start and 2130706512 at its end",
			badTrailer, 1},
		{"pcapng length not a multiple of 4", "damaged at byte offset 128: enhanced packet block has length 81 (want a multiple of 4, at least 32)",
			start(0).raw(ngEPB, 81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 81).out, 1},
		{"pcapng dropped block too short", "damaged at byte offset 128: block of type 0x4 has length 8, not a valid block length",
			start(0).raw(4, 8, 0).out, 1},
		{"pcapng simple packet over the bound", "damaged at byte offset 128: simple packet block claims 4294967280 bytes, over the bound on any record (262144)",
			start(0).block(ngSPB, spb).out, 1},
		{"pcapng interfaces over their bound", "more than 1048576 bytes of interface descriptions in one section",
			manyIfaces.out, 0},
		{"pcapng big-endian packet over the snap length", "enhanced packet block claims 70000 bytes, over the interface's snap length (65535)",
			pcapngBE([]layers.LinkType{layers.LinkTypeEthernet}, beFrames), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := newFileSource("x.cap", bytes.NewReader(tc.data))
			if err != nil {
				if tc.frames == 0 && errors.Is(err, capture.ErrDamaged) && strings.Contains(err.Error(), tc.want) {
					return // damaged before the first packet: while opening
				}
				t.Fatal(err)
			}
			defer src.Close()
			got, err := readFrames(t, src)
			if len(got) != tc.frames {
				t.Errorf("%d frames, want %d", len(got), tc.frames)
			}
			if !errors.Is(err, capture.ErrDamaged) || !strings.HasPrefix(err.Error(), "read capture x.cap: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrDamaged naming x.cap and saying %q", err, tc.want)
			}
		})
	}
}

// TestDroppedBlocks: the blocks flowaudit has no use for (name resolution,
// decryption secrets, custom) are skipped, however long, and the packets
// around them read; the interface statistics of many sections add up,
// though only the current section's are kept; a file ending inside a
// skipped block is a truncation.
func TestDroppedBlocks(t *testing.T) {
	frame := marked(1)
	b := (&ngb{}).shb().idb(0).epb(uint32(len(frame)), frame)
	b.block(4, make([]byte, 300<<10))  // name resolution: pcapgo would keep its names
	b.block(10, make([]byte, 600<<10)) // decryption secrets, over maxNgBlock
	b.block(0x40000bad, []byte("custom"))
	b.epb(uint32(len(frame)), frame).isb(5)
	for range 3 {
		b.shb().idb(0).epb(uint32(len(frame)), frame).isb(5)
	}
	src, err := newFileSource("x.pcapng", bytes.NewReader(b.out))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readFrames(t, src)
	if err != nil || len(got) != 5 {
		t.Errorf("%d frames, error %v: want 5 frames and the clean end", len(got), err)
	}
	if d := src.InterfaceDrops(); d != 20 {
		t.Errorf("interface drops %d, want 20 (5 in each of 4 sections)", d)
	}
	if n := len(src.isbDrops); n > 1 {
		t.Errorf("%d interfaces' statistics kept, want those of the last section only", n)
	}
	src.Close()

	cut := (&ngb{}).shb().idb(0).epb(uint32(len(frame)), frame).block(4, make([]byte, 1000)).out
	src, err = newFileSource("cut.pcapng", bytes.NewReader(cut[:len(cut)-500]))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err = readFrames(t, src)
	if len(got) != 1 || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "the file ends inside the block at byte offset 128") {
		t.Errorf("%d frames, error %v: want 1 frame and a truncation at byte offset 128", len(got), err)
	}
}
