package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
)

// TestReadProgressBar: on a terminal, reading shows a bar of bytes read
// out of the input's size with packets and flows so far, and clears it
// when reading ends; elsewhere (a buffer, a pipe) nothing is drawn.
func TestReadProgressBar(t *testing.T) {
	var w bytes.Buffer
	bar, done := attachReadProgress(&w)
	bar.Progress(capture.Progress{}) // a live source: no size, no bar
	if w.Len() != 0 {
		t.Errorf("a bar without an input size: %q", w.String())
	}
	bar.Progress(capture.Progress{Stats: capture.Stats{Packets: 51234, Flows: 321}, InputRead: 3 << 20, InputSize: 12 << 20})
	out := w.String()
	for _, want := range []string{"25%", "51234 packets, 321 flows", "3.1/13 MB"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar %q lacks %q", out, want)
		}
	}
	w.Reset()
	done()
	if out := w.String(); strings.Trim(out, " \r") != "" || !strings.HasSuffix(out, "\r") {
		t.Errorf("done does not clear the bar: %q", out)
	}

	// A real read: the sink sees the input's size.
	path := filepath.Join(t.TempDir(), "many.pcap")
	var segs []seg
	for i := range 1500 { // more than one batch of the pipeline
		segs = append(segs, handshake("198.51.100.7", uint16(20000+i), "192.0.2.10", 25)...)
	}
	writePcap(t, path, segs)
	var sizes []int64
	src, err := pcapfile.OpenSource([]string{path}, flow.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	capture.Replay(context.Background(), src, capture.SinkFuncs{OnProgress: func(p capture.Progress) { sizes = append(sizes, p.InputSize) }},
		capture.Options{ProgressEvery: time.Nanosecond})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) == 0 || sizes[0] != fi.Size() {
		t.Errorf("progress input sizes %v, want %d", sizes, fi.Size())
	}

	// Not a terminal: no bar.
	var quiet bytes.Buffer
	a := &app{ctx: context.Background(), stderr: &quiet}
	sink, end := a.readProgress()
	end()
	if sink != nil || quiet.Len() != 0 {
		t.Errorf("a progress sink or output when stderr is not a terminal: %q", quiet.String())
	}
}
