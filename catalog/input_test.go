package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInputBounds: catalog and site files that are not regular files, or
// are larger than the limit, are refused unread with one line naming the
// file (issue 10, row 4); the limit can be raised.
func TestInputBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: a file of MaxFileSize+1 bytes costs no disk and no time.
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cases := []struct {
		name, path string
		is         error
		want       string
	}{
		{"directory", dir, ErrNotRegular, "not a regular file (a directory)"},
		{"too large", big, ErrTooLarge, "4194305 bytes, over the size limit of 4 MiB"},
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		cases = append(cases, struct {
			name, path string
			is         error
			want       string
		}{"endless device", "/dev/zero", ErrNotRegular, "not a regular file (a character device)"})
	}
	if p := fifo(t, dir); p != "" {
		cases = append(cases, struct {
			name, path string
			is         error
			want       string
		}{"named pipe", p, ErrNotRegular, "not a regular file (a named pipe)"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for kind, load := range map[string]func() error{
				"catalog": func() error { _, err := LoadFile(tc.path); return err },
				"site":    func() error { _, err := LoadSite(tc.path); return err },
			} {
				err := load()
				if !errors.Is(err, tc.is) {
					t.Fatalf("%s: error %v, want %v", kind, err, tc.is)
				}
				want := "load " + kind + " " + tc.path + ": " + tc.want
				if err.Error() != want {
					t.Errorf("%s: error %q, want %q", kind, err, want)
				}
			}
		})
	}
	// Raised, the limit lets the file be read (and found not to be a
	// catalog); lowered, it refuses a small valid file.
	if _, err := LoadFileLimit(big, 8<<20); err == nil || errors.Is(err, ErrTooLarge) {
		t.Errorf("raised limit: %v, want a parse error", err)
	}
	small := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(small, []byte("hosts: [192.0.2.10]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSiteLimit(small, 10); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "20 bytes, over the size limit of 10 bytes") {
		t.Errorf("lowered limit: %v", err)
	}
	if s, err := LoadSiteLimit(small, 0); err != nil || len(s.Hosts) != 1 {
		t.Errorf("limit 0 (the default): %v, %v", s, err)
	}
}

// TestInputGrowsPastLimit: a file whose size the kernel does not report
// (a /proc file says 0) is still read no further than the limit.
func TestInputGrowsPastLimit(t *testing.T) {
	const proc = "/proc/self/status"
	if fi, err := os.Stat(proc); err != nil || fi.Size() != 0 {
		t.Skip("no /proc file of unknown size here")
	}
	if _, err := readInput(proc, 16); !errors.Is(err, ErrTooLarge) || err.Error() != "more than 16 bytes: over the size limit" {
		t.Errorf("error %v, want ErrTooLarge", err)
	}
}
