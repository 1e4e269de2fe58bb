package pcapfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// TestInputBytes: file sources count the bytes read from disk (compressed
// bytes for gzip) against the files' sizes, single and merged, and Run
// hands the counts to the Progress callback.
func TestInputBytes(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "flows")
	plain := filepath.Join(dir, "established.pcap")
	raw, err := os.ReadFile(filepath.Join(dir, "refused-rst.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	gzPath := tmp(t, "rst.pcap.gz")
	writeFile(t, gzPath, gz(t, raw))
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	for _, tc := range []struct {
		name  string
		paths []string
	}{
		{"pcap", []string{plain}},
		{"gzip", []string{gzPath}},
		{"merged", []string{plain, gzPath}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want int64
			for _, p := range tc.paths {
				want += size(p)
			}
			src, err := OpenMerged(tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			c, ok := src.(capture.InputCounter)
			if !ok {
				t.Fatalf("%T is not an InputCounter", src)
			}
			if _, z := c.InputBytes(); z != want {
				t.Errorf("size %d, want %d", z, want)
			}
			if _, err := readFrames(t, src); err != nil {
				t.Fatal(err)
			}
			if r, z := c.InputBytes(); r != want || z != want {
				t.Errorf("after EOF: read %d of %d, want %d of %d", r, z, want, want)
			}
		})
	}
	t.Run("progress", func(t *testing.T) {
		// More packets than one batch, so Progress is called mid-run.
		big := tmp(t, "big.pcap")
		frames := make([]testFrame, 3*1024) // capture hands over batches of 1024 packets
		for i := range frames {
			frames[i] = testFrame{TS: int64(i) * 1e6, Data: marked(uint16(i))}
		}
		writePcap(t, big, layers.LinkTypeEthernet, false, frames)
		var last capture.Progress
		src, err := OpenSource([]string{big}, flow.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		capture.Replay(context.Background(), src, capture.SinkFuncs{OnProgress: func(p capture.Progress) { last = p }},
			capture.Options{ProgressEvery: time.Nanosecond})
		if want := size(big); last.InputSize != want || last.InputRead <= 0 || last.InputRead > want {
			t.Errorf("last progress read %d of %d, want some of %d", last.InputRead, last.InputSize, want)
		}
	})
}
