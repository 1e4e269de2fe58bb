package session

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLoadBounds: a session path that is not a regular file, or a file
// over the limit, is refused unread with one line naming it (issue 10,
// row 4: /dev/zero used to be read until memory ran out); OpenAll
// applies the limit to each file.
func TestLoadBounds(t *testing.T) {
	dir := t.TempDir()
	good := writeSample(t)
	fi, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse: no disk, no time
		t.Fatal(err)
	}
	f.Close()
	cases := []struct {
		path string
		is   error
		want string
	}{
		{dir, ErrNotRegular, "not a regular file (a directory)"},
		{big, ErrTooLarge, "1073741825 bytes, over the size limit of 1 GiB"},
		{"/dev/zero", ErrNotRegular, "not a regular file (a character device)"},
		{fifo(t, dir), ErrNotRegular, "not a regular file (a named pipe)"},
	}
	for _, tc := range cases {
		if tc.path == "" {
			continue // no named pipes on this system
		}
		if _, err := os.Stat(tc.path); err != nil {
			continue // no /dev/zero on this system
		}
		_, err := openAll(t, good, tc.path)
		want := "session " + tc.path + ": " + tc.want
		if !errors.Is(err, tc.is) || err.Error() != want {
			t.Errorf("%s: error %v, want %q", tc.path, err, want)
		}
	}
	if _, err := OpenAll(fi.Size()-1, good); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit one byte short: %v, want ErrTooLarge", err)
	}
	s, err := OpenAll(fi.Size(), good)
	if err != nil || len(s) != 1 {
		t.Fatalf("limit of exactly the file's size: %v", err)
	}
	s[0].Close()
}

// TestReadStreams: reading a session holds its values, not the file: with
// an unknown key holding 6 MiB (skipped token by token) the live heap is
// no larger than with one holding a few bytes, where reading the whole
// file first held 6 MiB at least. The live heap is taken after a GC at
// each read of the input (about every MiB), so the figure does not depend
// on the machine or its load.
func TestReadStreams(t *testing.T) {
	good, err := os.ReadFile(writeSample(t))
	if err != nil {
		t.Fatal(err)
	}
	// The padding is made as it is read, so the input is not in the heap.
	padded := func(n int64) io.Reader {
		return io.MultiReader(strings.NewReader(`{"padding": [0`),
			io.LimitReader(repeat(",0"), 2*n), strings.NewReader("],"), bytes.NewReader(good[1:]))
	}
	small, large := peakLive(t, padded(10)), peakLive(t, padded(3<<20))
	t.Logf("live heap %d KiB against %d KiB", large>>10, small>>10)
	if large > small+3<<20 {
		t.Errorf("live heap %d KiB reading 6 MiB more input, against %d KiB: want under 3 MiB more",
			large>>10, small>>10)
	}
}

// repeat is an endless reader of s, s, s...
type repeat string

func (s repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = s[i%len(s)]
	}
	return len(p) - len(p)%len(s), nil
}

// peakLive reads a session from r and returns the largest live heap
// seen at the reads of its input.
func peakLive(t *testing.T, r io.Reader) uint64 {
	t.Helper()
	p := &probe{r: r}
	if _, err := Read(p); err != nil {
		t.Fatal(err)
	}
	return p.peak
}

// probe is a reader that measures the live heap (after a GC) at each Read.
type probe struct {
	r    io.Reader
	peak uint64
}

func (p *probe) Read(b []byte) (int, error) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.peak = max(p.peak, m.HeapAlloc)
	return p.r.Read(b)
}

// TestLoadGrowsPastLimit: a file that is larger when read than when it was
// checked is read no further than the limit.
func TestLoadGrowsPastLimit(t *testing.T) {
	r := newCapped(strings.NewReader(strings.Repeat("x", 100)), 10, 5)
	n, err := io.Copy(io.Discard, r)
	if n != 10 || !errors.Is(err, ErrTooLarge) || err.Error() != "more than 10 bytes: over the size limit" {
		t.Errorf("read %d bytes, error %v: want 10 and ErrTooLarge", n, err)
	}
}
