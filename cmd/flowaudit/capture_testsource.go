//go:build flowaudit_testsource

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
)

// A test build only (go build -tags flowaudit_testsource): with
// FLOWAUDIT_TEST_SOURCE=FILE,RATE, `capture` reads the capture file FILE
// as if it came off the wire, RATE packets a second, each stamped with
// the moment it is read, and then waits for more until it is stopped: the
// live view can be watched in a terminal without privilege or traffic
// (TestLiveViewTmux). The interface named by --iface is not opened.
func init() {
	spec := os.Getenv("FLOWAUDIT_TEST_SOURCE")
	if spec == "" {
		return
	}
	file, rateText, _ := strings.Cut(spec, ",")
	rate, err := strconv.ParseFloat(rateText, 64)
	if err != nil || rate <= 0 {
		panic(fmt.Sprintf("FLOWAUDIT_TEST_SOURCE=%q: want FILE,RATE (packets a second)", spec))
	}
	liveSupported = func() error { return nil }
	checkInterface = func(string) error { return nil }
	openLive = func(_ string, o capture.LiveOptions) (liveSource, error) {
		r, err := pcapfile.Open(file)
		if err != nil {
			return nil, err
		}
		sr := &slowReader{r: r, every: time.Duration(float64(time.Second) / rate)}
		return &testSource{Source: capture.Packets(sr, capture.PacketOptions{Backend: "afpacket", Iface: o.Iface,
			Table: flow.Config{MaxFlows: 1024}}), r: sr}, nil
	}
}

// slowReader hands out r's frames one every every, stamped now; at the
// end of r it times out (a quiet wire) until the capture stops.
type slowReader struct {
	r     capture.FrameReader
	every time.Duration
	next  time.Time
	done  bool
}

func (s *slowReader) Next(f *capture.Frame) error {
	if s.done {
		time.Sleep(50 * time.Millisecond)
		return capture.ErrTimeout
	}
	if d := time.Until(s.next); d > 0 {
		time.Sleep(min(d, 50*time.Millisecond))
		if time.Now().Before(s.next) {
			return capture.ErrTimeout
		}
	}
	if err := s.r.Next(f); err != nil {
		s.done = true
		return capture.ErrTimeout
	}
	f.TS = time.Now().UnixNano()
	s.next = time.Now().Add(s.every)
	return nil
}

func (s *slowReader) Close() error { return s.r.Close() }

// testSource is the file source as capture's liveSource.
type testSource struct {
	capture.Source
	r *slowReader
}

func (t *testSource) Backend() string { return "afpacket" }
func (t *testSource) MaxFlows() int   { return 1024 }
func (t *testSource) Close() error    { return t.r.Close() }
