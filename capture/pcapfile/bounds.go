package pcapfile

import (
	"bufio"
	"encoding/binary"
	"fmt"

	"github.com/flowaudit/flowaudit/capture"
)

// MaxRecord is the longest packet record read from a capture file:
// libpcap's MAXIMUM_SNAPLEN (262144). A record is also refused when it is
// longer than its file's (or pcapng interface's) snap length, when that is
// set and smaller. The lengths in a record header come from the file, so
// without this bound one 16-byte header could make the reader allocate
// 4 GiB (docs/decoding.md, "Bounds").
const MaxRecord = 256 << 10

// damageError says where a file is damaged and how.
type damageError struct {
	off  int64 // byte offset of the record or block in the (uncompressed) file
	what string
}

func (e *damageError) Error() string {
	return fmt.Sprintf("damaged at byte offset %d: %s", e.off, e.what)
}

func (e *damageError) Is(target error) bool { return target == capture.ErrDamaged }

// recordLimit is the longest record a file or interface with this snap
// length may hold: the snap length, or MaxRecord when it is 0 or larger.
func recordLimit(snaplen uint32) int {
	if snaplen == 0 || snaplen > MaxRecord {
		return MaxRecord
	}
	return int(snaplen)
}

// pcapRecords checks classic pcap record headers before pcapgo reads them:
// pcapgo trusts a caplen up to the file's snap length, and a snap length
// of 0xFFFFFFFF makes a 1 MB .pcap.gz of zeros cost gigabytes. It peeks at
// the header in pcapgo's own buffer, so nothing is copied or allocated.
type pcapRecords struct {
	br    *bufio.Reader // the reader pcapgo reads from (the same buffer)
	order binary.ByteOrder
	limit int   // recordLimit of the file's snap length
	snap  int64 // the file's snap length, for the error
	off   int64 // offset of the next record header
}

// check returns a damage error when the next record is longer than the
// limit; nil otherwise, and also when fewer than 16 bytes remain (pcapgo
// reports the truncation or the end).
func (p *pcapRecords) check() error {
	hdr, _ := p.br.Peek(16)
	if len(hdr) < 16 {
		return nil
	}
	caplen := int64(p.order.Uint32(hdr[8:12]))
	if caplen <= int64(p.limit) {
		p.off += 16 + caplen
		return nil
	}
	return &damageError{p.off, fmt.Sprintf("record claims %d bytes, over the %s (%d)",
		caplen, limitName(p.snap, "file's"), p.limit)}
}

// limitName names the bound a record broke: the file's or interface's
// (whose) snap length, or MaxRecord.
func limitName(snaplen int64, whose string) string {
	if snaplen == 0 || snaplen > MaxRecord {
		return "bound on any record"
	}
	return whose + " snap length"
}
