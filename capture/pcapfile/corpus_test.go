package pcapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/decode"
)

// sharedCorpus returns ../shared/corpus relative to the repository root,
// skipping the test when it is absent.
func sharedCorpus(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared corpus absent (%s): %v", dir, err)
	}
	return dir
}

// corpusResult is what reading one corpus file produced.
type corpusResult struct {
	frames, decoded int
	byErr           map[error]int
	links           map[layers.LinkType]int
	openErr         error
	readErr         error // nil at a clean io.EOF
}

// readCorpusFile reads a whole file through OpenFile and Decode.
func readCorpusFile(path string) (r corpusResult) {
	r.byErr = map[error]int{}
	r.links = map[layers.LinkType]int{}
	src, err := Open(path)
	if err != nil {
		r.openErr = err
		return r
	}
	defer src.Close()
	d := decode.NewDecoder()
	var f capture.Frame
	var p decode.Packet
	for {
		err := src.Next(&f)
		if err == io.EOF {
			return r
		}
		if err != nil {
			r.readErr = err
			return r
		}
		r.frames++
		r.links[f.LinkType]++
		p.TS, p.WireLen = f.TS, f.WireLen
		if err := d.Decode(f.Data, f.LinkType, &p); err != nil {
			r.byErr[err]++
		} else {
			r.decoded++
		}
	}
}

// TestCorpusNoPanicNoHang reads every file of the shared zeek and malformed
// corpora: none may panic or take more than a few seconds, a file that
// opens as a capture either ends cleanly or with an error naming it, and
// every Zeek trace of a supported link type decodes packets.
func TestCorpusNoPanicNoHang(t *testing.T) {
	corpus := sharedCorpus(t)
	var files []string
	for _, sub := range []string{"zeek", "zeek-extra", "malformed", "suricata"} {
		filepath.WalkDir(filepath.Join(corpus, sub), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && isCaptureName(p) {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 100 {
		t.Fatalf("only %d capture files found under %s", len(files), corpus)
	}
	sort.Strings(files)
	var summary strings.Builder
	for _, path := range files {
		rel, _ := filepath.Rel(corpus, path)
		done := make(chan corpusResult, 1)
		panicked := make(chan any, 1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					panicked <- v
				}
			}()
			done <- readCorpusFile(path)
		}()
		select {
		case v := <-panicked:
			t.Errorf("%s: panic: %v", rel, v)
		case r := <-done:
			checkCorpusResult(t, rel, path, r)
			fmt.Fprintf(&summary, "%s frames=%d decoded=%d links=%v errs=%v open=%v read=%v\n",
				rel, r.frames, r.decoded, r.links, r.byErr, r.openErr, r.readErr)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not read within 10s (hang?)", rel)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + summary.String())
	}
}

func isCaptureName(p string) bool {
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".gz", ".ntar"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

func checkCorpusResult(t *testing.T, rel, path string, r corpusResult) {
	t.Helper()
	if r.openErr != nil {
		if !strings.HasPrefix(r.openErr.Error(), "open capture "+path+": ") {
			t.Errorf("%s: open error does not name the file: %v", rel, r.openErr)
		}
		if strings.HasPrefix(rel, "zeek") {
			t.Errorf("%s: zeek trace does not open: %v", rel, r.openErr)
		}
		return
	}
	if r.readErr != nil && !strings.HasPrefix(r.readErr.Error(), "read capture "+path+": ") {
		t.Errorf("%s: read error does not name the file: %v", rel, r.readErr)
	}
	if strings.HasPrefix(rel, "zeek/") && r.readErr != nil {
		t.Errorf("%s: zeek trace fails to read: %v", rel, r.readErr)
	}
	if strings.HasPrefix(rel, "zeek/") && r.byErr[decode.ErrUnsupported] == 0 && r.decoded == 0 {
		t.Errorf("%s: no packet decoded (%v)", rel, r.byErr)
	}
	// The pcapng structure suite describes each file's blocks: every
	// packet block (EPB, SPB, obsolete PB) must come out as one frame.
	if desc, err := os.ReadFile(strings.TrimSuffix(path, ".pcapng") + ".txt"); err == nil {
		want, ok := packetBlocks(string(desc))
		if ok && (r.frames != want || r.readErr != nil) {
			t.Errorf("%s: %d frames (%v), the description lists %d packet blocks", rel, r.frames, r.readErr, want)
		}
	}
}

// packetBlocks sums the EPB, SPB and PB counts of a pcapng-test-generator
// description ("Block counts:" section, one "\tEPB: 3" line per type).
func packetBlocks(desc string) (n int, ok bool) {
	for line := range strings.Lines(desc) {
		line = strings.TrimSpace(line)
		if line == "Block counts:" {
			ok = true
		}
		var typ string
		var c int
		if _, err := fmt.Sscanf(line, "%s %d", &typ, &c); err == nil {
			switch typ {
			case "EPB:", "SPB:", "PB:":
				n += c
			}
		}
	}
	return n, ok
}

// TestTruncatedFileKeepsFrames cuts a good capture short at several points:
// the frames before the cut come out, then an error naming the file that
// wraps io.ErrUnexpectedEOF.
func TestTruncatedFileKeepsFrames(t *testing.T) {
	corpus := sharedCorpus(t)
	for _, name := range []string{"zeek/wikipedia.pcap", "zeek/pcapng-multi-interface.pcapng"} {
		full, err := os.ReadFile(filepath.Join(corpus, name))
		if err != nil {
			t.Fatal(err)
		}
		whole := readCorpusFile(filepath.Join(corpus, name))
		if whole.readErr != nil || whole.frames == 0 {
			t.Fatalf("%s: whole file: %d frames, %v", name, whole.frames, whole.readErr)
		}
		for _, cut := range []int{len(full) - 1, len(full) - 7, len(full) * 2 / 3, len(full) / 2} {
			p := filepath.Join(t.TempDir(), "cut.pcap")
			if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			r := readCorpusFile(p)
			if r.openErr != nil {
				t.Fatalf("%s cut at %d: %v", name, cut, r.openErr)
			}
			if !errors.Is(r.readErr, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut at %d: got %v, want io.ErrUnexpectedEOF", name, cut, r.readErr)
			}
			if r.frames == 0 || r.frames >= whole.frames {
				t.Errorf("%s cut at %d: %d frames of %d", name, cut, r.frames, whole.frames)
			}
		}
	}
}
