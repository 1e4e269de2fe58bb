package pcapfile

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestReadErrorWording: errors from the gzip and pcap libraries read as
// flowaudit's own (lower case, saying what is wrong), and still unwrap to
// the library's error.
func TestReadErrorWording(t *testing.T) {
	dir := t.TempDir()
	frames := make([]testFrame, 200)
	for i := range frames {
		frames[i] = testFrame{TS: int64(i) * 1e6, Data: marked(uint16(i))}
	}
	plain := dir + "/ok.pcap"
	writePcap(t, plain, layers.LinkTypeEthernet, false, frames)
	// A valid gzip header, then a deflate block of the reserved type 3.
	z := append(gz(t, readAll(t, plain))[:10:10], 0x07, 0, 0, 0, 0, 0, 0, 0)
	corrupt := dir + "/corrupt.pcap.gz"
	writeFile(t, corrupt, z)
	// Valid deflate data whose gzip trailer (CRC-32) is wrong.
	z = gz(t, readAll(t, plain))
	z[len(z)-8] ^= 0xff
	badCRC := dir + "/crc.pcap.gz"
	writeFile(t, badCRC, z)

	hdr := make([]byte, 24)
	copy(hdr, magicPcapUS[:])
	binary.LittleEndian.PutUint16(hdr[4:], 512) // major version 512
	badVersion := dir + "/v512.pcap"
	writeFile(t, badVersion, hdr)

	for _, tc := range []struct {
		path, want string
	}{
		{corrupt, "open capture " + corrupt + ": gzip data is corrupt (flate: corrupt input"},
		{badCRC, "read capture " + badCRC + ": after 200 frames: gzip data is corrupt (gzip: invalid checksum)"},
		{badVersion, "open capture " + badVersion + ": pcap header: unknown major version 512"},
	} {
		src, err := Open(tc.path)
		if err == nil {
			_, err = readFrames(t, src)
			src.Close()
		}
		if err == nil || errors.Is(err, io.EOF) {
			t.Errorf("%s: no error", tc.path)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.path, err, tc.want)
		}
		if errors.Unwrap(err) == nil {
			t.Errorf("%s: error %q wraps nothing", tc.path, err)
		}
	}
}
