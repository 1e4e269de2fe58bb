package pcapfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// pcapng block types the guard looks into (pcapng specification, section
// 11.1); every other block is dropped unread.
const (
	ngSHB = 0x0A0D0D0A // section header
	ngIDB = 1          // interface description
	ngPB  = 2          // packet (obsolete)
	ngSPB = 3          // simple packet
	ngISB = 5          // interface statistics
	ngEPB = 6          // enhanced packet
)

const (
	// maxNgBlock bounds a block the guard hands to pcapgo: a MaxRecord
	// packet with room for options. It must fit in the read buffer, since
	// a block is checked whole (peeked) before pcapgo sees a byte of it.
	maxNgBlock = MaxRecord + 256<<10
	// maxNgInterfaces bounds the interface descriptions of one section, in
	// bytes: pcapgo keeps them (with their names and descriptions) until
	// the section ends. A real capture has a few; 1 MiB is thousands.
	maxNgInterfaces = 1 << 20
)

// ngGuard sits between a pcapng stream and pcapgo's NgReader and passes on
// only blocks whose framing holds, so that memory is bounded whatever the
// file says. pcapgo reads a packet of the length its header claims (4 GiB
// from a 1 MB .pcapng.gz of zeros), reads past a block whose options or
// packet overrun it (and then takes any bytes for a block header), and
// keeps every name resolution record and decryption secret of a section.
// The guard checks each block whole before handing it over: the lengths
// (at least the fixed part, a multiple of 4, at most maxNgBlock, equal at
// both ends), a packet no longer than its interface's snap length or
// MaxRecord, options that end inside the block; it drops the blocks
// flowaudit has no use for (name resolution, decryption secrets, custom
// and unknown blocks) and those of sections pcapgo skips (versions other
// than 1.0), and bounds the interface descriptions of a section. A damaged
// block ends the stream with a damageError: pcapgo never sees it.
type ngGuard struct {
	br    *bufio.Reader // the file (decompressed), with a buffer > maxNgBlock
	be    bool          // the section is big-endian
	snaps []uint32      // snap length of each interface of the section
	ifb   int           // bytes of interface descriptions in the section
	skip  bool          // in a section of a version pcapgo skips
	ok    int           // bytes at the read position checked, not yet passed on
	off   int64         // offset of the read position in the stream
	err   error         // sticky: io.EOF, or what ended the stream
}

func newNgGuard(br *bufio.Reader) *ngGuard {
	return &ngGuard{br: br}
}

// Read passes on checked blocks: the next one, and those after it that are
// already buffered, in one copy. It returns the error that ended the
// stream only once every byte before it was passed on.
func (g *ngGuard) Read(p []byte) (int, error) {
	if g.ok == 0 {
		if g.err != nil {
			return 0, g.err
		}
		if g.err = g.next(); g.ok == 0 {
			return 0, g.err
		}
		if g.err == nil {
			g.ahead()
		}
	}
	m, err := g.br.Read(p[:min(len(p), g.ok)])
	g.ok -= m
	g.off += int64(m)
	if err != nil && g.err == nil {
		g.err = g.fail(err)
	}
	if m > 0 {
		return m, nil
	}
	return 0, g.err
}

// Err returns what ended the stream when it was not its clean end: a
// damageError, a truncation or a read error. The NgReader above may have
// wrapped it in its own words, or lost it (it takes an EOF after a block
// for the end of the file).
func (g *ngGuard) Err() error {
	if g.err == io.EOF {
		return nil
	}
	return g.err
}

// fail turns an EOF inside a block into a truncation. The NgReader must
// not see a bare io.ErrUnexpectedEOF at a block boundary: it takes that
// for the clean end of the file.
func (g *ngGuard) fail(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return truncatedError{g.off}
	}
	return err
}

// truncatedError is a file that ends inside a pcapng block.
type truncatedError struct{ off int64 }

func (e truncatedError) Error() string {
	return fmt.Sprintf("the file ends inside the block at byte offset %d: %v", e.off, io.ErrUnexpectedEOF)
}

func (e truncatedError) Unwrap() error { return io.ErrUnexpectedEOF }

// next checks the block at the read position (dropping those pcapgo does
// not get) and sets ok to the bytes to pass on: the whole block, or as
// much of it as the file holds when it ends inside the block and the
// block's header holds (pcapgo then reports the truncation). It returns
// io.EOF at the clean end of the stream.
func (g *ngGuard) next() error {
	for {
		hdr, err := g.br.Peek(12)
		switch {
		case len(hdr) == 0 && err == io.EOF:
			return io.EOF
		case len(hdr) < 8 && err != nil:
			g.ok = len(hdr)
			if err != io.EOF {
				return err
			}
			return nil
		}
		typ := g.u32(hdr[0:4])
		if typ == ngSHB && len(hdr) == 12 {
			switch {
			case binary.LittleEndian.Uint32(hdr[8:12]) == 0x1A2B3C4D:
				g.be = false
			case binary.BigEndian.Uint32(hdr[8:12]) == 0x1A2B3C4D:
				g.be = true
			}
		}
		length := int64(g.u32(hdr[4:8]))
		if typ != ngSHB && (g.skip || !passedOn(typ)) {
			if length < 12 || length%4 != 0 {
				return g.damaged("%s has length %d, not a valid block length", blockName(typ), length)
			}
			if _, err := g.br.Discard(int(length)); err != nil {
				return g.fail(err)
			}
			g.off += length
			continue
		}
		if length > maxNgBlock {
			return g.damaged("%s has length %d (want at most %d)", blockName(typ), length, maxNgBlock)
		}
		b, err := g.br.Peek(int(length))
		if err != nil && err != io.EOF {
			return err
		}
		if int64(len(b)) < length && int64(len(b)) < fixedLen(typ)-4 {
			g.ok = len(b) // pcapgo stops inside the fixed part
			return nil
		}
		if err := g.check(typ, b, length); err != nil {
			return err
		}
		g.ok = len(b)
		return nil
	}
}

// ahead extends ok over the blocks after the next one that are buffered
// whole and pass the check, so that one copy passes on many small blocks.
// It stops before any other block (a section header, a block to drop, one
// cut by the end of the buffer, a damaged one): next deals with it when it
// comes to the read position.
func (g *ngGuard) ahead() {
	buf, _ := g.br.Peek(g.br.Buffered())
	pos := g.ok
	for len(buf)-pos >= 12 {
		typ := g.u32(buf[pos:])
		length := int(g.u32(buf[pos+4:]))
		if typ == ngSHB || g.skip || !passedOn(typ) || length > len(buf)-pos || length > maxNgBlock {
			break
		}
		if g.check(typ, buf[pos:pos+length], int64(length)) != nil {
			break
		}
		pos += length
	}
	g.ok = pos
}

// passedOn says whether pcapgo gets blocks of type typ.
func passedOn(typ uint32) bool {
	switch typ {
	case ngIDB, ngPB, ngSPB, ngISB, ngEPB:
		return true
	}
	return false
}

// blockName names a block type in errors.
func blockName(typ uint32) string {
	switch typ {
	case ngSHB:
		return "section header block"
	case ngIDB:
		return "interface description block"
	case ngPB:
		return "packet block"
	case ngSPB:
		return "simple packet block"
	case ngISB:
		return "interface statistics block"
	case ngEPB:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block of type %#x", typ)
}

// fixedLen is the length of a passed-on block type without options or
// packet: the header, the fixed fields and the trailing length.
func fixedLen(typ uint32) int64 {
	switch typ {
	case ngSHB:
		return 28
	case ngIDB:
		return 20
	case ngSPB:
		return 16
	case ngISB:
		return 24
	}
	return 32 // ngEPB, ngPB
}

// check checks a block pcapgo gets: b holds all of it, or (when the file
// ends inside the block) at least its fixed part. It changes what the
// guard keeps of the section only when the block passes.
func (g *ngGuard) check(typ uint32, b []byte, length int64) error {
	if length < fixedLen(typ) || length%4 != 0 {
		return g.damaged("%s has length %d (want a multiple of 4, at least %d)", blockName(typ), length, fixedLen(typ))
	}
	whole := int64(len(b)) == length
	if trail := g.u32(b[max(len(b)-4, 0):]); whole && int64(trail) != length {
		return g.damaged("%s has length %d at its start and %d at its end", blockName(typ), length, trail)
	}
	opts := func(from int64) error {
		if !whole {
			return nil
		}
		return g.options(typ, b[from:length-4])
	}
	switch typ {
	case ngSHB:
		// pcapgo reads version 1.0 and skips other sections whole.
		skip := g.u16(b[12:14]) != 1 || g.u16(b[14:16]) != 0
		if !skip {
			if err := opts(24); err != nil {
				return err
			}
		}
		g.snaps, g.ifb, g.skip = g.snaps[:0], 0, skip
	case ngIDB:
		if g.ifb+int(length) > maxNgInterfaces {
			return g.damaged("more than %d bytes of interface descriptions in one section", maxNgInterfaces)
		}
		if err := opts(16); err != nil {
			return err
		}
		g.ifb += int(length)
		g.snaps = append(g.snaps, g.u32(b[12:16]))
	case ngISB:
		return opts(20)
	case ngSPB:
		// pcapgo takes the original length, cut to interface 0's snap
		// length, as the packet's length.
		n, snap := int64(g.u32(b[8:12])), uint32(0)
		if len(g.snaps) > 0 {
			snap = g.snaps[0]
			if snap != 0 && n > int64(snap) {
				n = int64(snap)
			}
		}
		return g.packet(typ, n, snap, 12, length)
	case ngEPB, ngPB:
		iface := g.u32(b[8:12])
		if typ == ngPB {
			iface = uint32(g.u16(b[8:10]))
		}
		snap := uint32(0)
		if int64(iface) < int64(len(g.snaps)) {
			snap = g.snaps[iface]
		}
		n := int64(g.u32(b[20:24]))
		if err := g.packet(typ, n, snap, 28, length); err != nil {
			return err
		}
		if typ == ngEPB {
			return opts(28 + pad4(n))
		}
	}
	return nil
}

// packet checks a packet of n captured bytes starting at offset from in a
// block of length bytes, on an interface with snap length snap.
func (g *ngGuard) packet(typ uint32, n int64, snap uint32, from, length int64) error {
	if limit := recordLimit(snap); n > int64(limit) {
		return g.damaged("%s claims %d bytes, over the %s (%d)", blockName(typ), n, limitName(int64(snap), "interface's"), limit)
	}
	if from+pad4(n)+4 > length {
		return g.damaged("%s claims %d bytes, more than its length of %d holds", blockName(typ), n, length)
	}
	return nil
}

// options checks that the options in b (a block's options, without the
// trailing length) end inside it, as pcapgo reads them: each is a 4-byte
// header and a value padded to 4 bytes, until opt_endofopt or the end.
func (g *ngGuard) options(typ uint32, b []byte) error {
	// Options start and end on 4-byte boundaries in a block whose length
	// is a multiple of 4, so an option header is never cut.
	for len(b) >= 4 {
		code, n := g.u16(b[0:2]), pad4(int64(g.u16(b[2:4])))
		b = b[4:]
		if code == 0 {
			return nil
		}
		if n > int64(len(b)) {
			return g.damaged("%s: option %d runs past the block's end", blockName(typ), code)
		}
		b = b[n:]
	}
	return nil
}

// damaged makes a damageError at the current block.
func (g *ngGuard) damaged(format string, args ...any) error {
	return &damageError{g.off, fmt.Sprintf(format, args...)}
}

// u32 and u16 read the section's byte order (a bool, not a
// binary.ByteOrder: the interface call costs in this per-packet path).
func (g *ngGuard) u32(b []byte) uint32 {
	if g.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (g *ngGuard) u16(b []byte) uint16 {
	if g.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

// pad4 rounds n up to a multiple of 4.
func pad4(n int64) int64 { return (n + 3) &^ 3 }
