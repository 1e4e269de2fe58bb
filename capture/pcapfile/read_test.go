package pcapfile

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

func TestReadFilesTruncatedAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(flowsDir, "established.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// Cut inside the fourth record: three frames survive.
	cut := 24 + 3*(16+54) + 20
	trunc := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(trunc, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ReadFiles(context.Background(), []string{trunc}, capture.Options{})
	if err != nil {
		t.Fatalf("truncated file is an error: %v", err)
	}
	if res.Stats.Packets != 3 || len(res.Flows) != 1 || len(res.Stats.Warnings) != 1 ||
		!strings.Contains(res.Stats.Warnings[0], "cut.pcap") || !strings.Contains(res.Stats.Warnings[0], "truncated") {
		t.Errorf("packets=%d flows=%d warnings=%q", res.Stats.Packets, len(res.Flows), res.Stats.Warnings)
	}

	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a capture at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.pcap"), text} {
		_, err := ReadFiles(context.Background(), []string{p}, capture.Options{})
		if err == nil || !strings.Contains(err.Error(), filepath.Base(p)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadFiles(%s) error = %v, want one line naming the file", p, err)
		}
	}
}

// TestReadFilesMalformedCorpus replays every damaged capture of the shared
// corpus: none may panic or hang, and each either fails with one line
// naming the file or returns a result.
func TestReadFilesMalformedCorpus(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "corpus", "malformed")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".txt") && !strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed int
	for _, p := range files {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := ReadFiles(ctx, []string{p}, capture.Options{})
		if ctx.Err() != nil {
			t.Errorf("%s: did not finish in 20s", p)
		}
		cancel()
		switch {
		case err != nil:
			failed++
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), filepath.Base(p)) {
				t.Errorf("%s: error not one line naming the file: %q", p, err)
			}
		case res == nil:
			t.Errorf("%s: nil result without error", p)
		default:
			ok++
		}
	}
	t.Logf("%d malformed-corpus files: %d read (some with warnings), %d refused with an error", len(files), ok, failed)
}

func TestReadFilesLossSignals(t *testing.T) {
	dir := t.TempDir()
	good := []testFrame{{TS: 1e9, Data: marked(1)}, {TS: 2e9, Data: marked(2)}, {TS: 3e9, Data: marked(3)}}
	clean := filepath.Join(dir, "clean.pcap")
	writePcap(t, clean, layers.LinkTypeEthernet, false, good)
	data := readAll(t, clean)
	trunc := filepath.Join(dir, "trunc.pcap")
	writeFile(t, trunc, data[:len(data)-10]) // cut inside the last record
	arcnet := filepath.Join(dir, "arcnet.pcap")
	writePcap(t, arcnet, 129, false, []testFrame{{TS: 1e9, Data: []byte{1, 2, 3}}, {TS: 2e9, Data: []byte{1, 2, 3}}})
	arp := filepath.Join(dir, "arp.pcap")
	writePcap(t, arp, layers.LinkTypeEthernet, false, []testFrame{{TS: 1e9, Data: arpFrame()}})

	tests := []struct {
		name       string
		paths      []string
		packets    uint64
		readErrors int
		loss       []string
		warning    string // a warning line must contain this ("" none)
	}{
		{"clean", []string{clean}, 3, 0, nil, ""},
		{"truncated", []string{trunc}, 2, 1, []string{"1 input file not read to its end (truncated or damaged)"},
			"read capture " + trunc + ": after 2 frames: unexpected EOF (truncated: flows up to this point are kept)"},
		{"truncated among others", []string{clean, trunc}, 5, 1,
			[]string{"1 input file not read to its end (truncated or damaged)"}, "trunc.pcap: after 2 frames"},
		{"unsupported link type", []string{arcnet}, 2, 0, []string{"2 frames could not be decoded"},
			"link type ARCNET_LINUX (129) is not supported: 2 frames skipped"},
		{"arp is not loss", []string{arp}, 1, 0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ReadFiles(context.Background(), tt.paths, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := res.Stats
			if st.Packets != tt.packets || len(st.ReadErrors) != tt.readErrors || st.Interrupted {
				t.Errorf("packets %d read errors %q interrupted %v", st.Packets, st.ReadErrors, st.Interrupted)
			}
			for _, e := range st.ReadErrors {
				if !slices.Contains(st.Warnings, e) {
					t.Errorf("read error %q not in warnings %q", e, st.Warnings)
				}
			}
			if got := st.LossSignals(); !slices.Equal(got, tt.loss) {
				t.Errorf("loss %q, want %q", got, tt.loss)
			}
			found := slices.ContainsFunc(st.Warnings, func(w string) bool { return strings.Contains(w, tt.warning) })
			if tt.warning != "" && !found || tt.warning == "" && len(st.Warnings) > 0 {
				t.Errorf("warnings %q, want one containing %q", st.Warnings, tt.warning)
			}
		})
	}
}

// TestReadFilesEmptyCapture checks that a capture with no packet leaves
// its start and end out of JSON, and that they read back as zero.
func TestReadFilesEmptyCapture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, false, nil)
	res, err := ReadFiles(context.Background(), []string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Packets != 0 || !res.Stats.Start.IsZero() || res.Stats.LossSeen() || len(res.Stats.Warnings) > 0 {
		t.Errorf("stats %+v", res.Stats)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"start"`, `"end"`, `0001-01-01`, `"interrupted"`, `"read_errors"`} {
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON of an empty capture has %s: %s", key, b)
		}
	}
	var back capture.Result
	if err := json.Unmarshal(b, &back); err != nil || !back.Stats.Start.IsZero() || !back.Stats.End.IsZero() {
		t.Errorf("read back: %v %+v", err, back.Stats)
	}
}

// TestReadFilesInterrupted cancels a replay of a real file after its first
// batch: the flows read so far come back, marked interrupted.
func TestReadFilesInterrupted(t *testing.T) {
	const n = 60 * 1024 // far more batches (capture hands over 1024 packets at a time) than its pool holds
	frames := make([]testFrame, n)
	for i := range frames {
		frames[i] = testFrame{TS: int64(i+1) * 1e6, Data: marked(uint16(i))}
	}
	path := filepath.Join(t.TempDir(), "long.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, false, frames)
	for _, cancelAt := range []int{0, 1} { // before reading, after the first batch
		ctx, cancel := context.WithCancel(context.Background())
		if cancelAt == 0 {
			cancel()
		}
		src, err := OpenSource([]string{path}, flow.Config{})
		if err != nil {
			t.Fatal(err)
		}
		c := capture.Collector{OnProgress: func(capture.Progress) { cancel() }}
		st := capture.Replay(ctx, src, &c, capture.Options{ProgressEvery: 1})
		src.Close()
		cancel()
		res := c.Result(st)
		if !st.Interrupted || st.Packets == 0 || st.Packets >= n || len(res.Flows) == 0 ||
			!slices.Contains(st.Warnings, "interrupted after "+itoa(st.Packets)+" packets: the input was not read to its end") {
			t.Errorf("cancel %d: interrupted %v after %d of %d packets, %d flows, warnings %q",
				cancelAt, st.Interrupted, st.Packets, n, len(res.Flows), st.Warnings)
		}
	}
	res, err := ReadFiles(context.Background(), []string{path}, capture.Options{})
	if err != nil || res.Stats.Interrupted || res.Stats.Packets != n {
		t.Errorf("uncancelled: %v, %+v", err, res.Stats)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
