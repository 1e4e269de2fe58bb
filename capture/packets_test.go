package capture

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// flowsDir holds the captures capture/pcapfile's TestOutcomeCaptures writes.
const flowsDir = "../testdata/flows"

// sliceSource replays frames from memory; it returns ErrTimeout between
// frames when timeouts is set, as a quiet live source does.
type sliceSource struct {
	frames   []Frame
	i        int
	timeouts bool
	ticked   bool
	err      error // returned at the end instead of io.EOF
}

func (s *sliceSource) Next(f *Frame) error {
	if s.timeouts && !s.ticked {
		s.ticked = true
		return ErrTimeout
	}
	s.ticked = false
	if s.i == len(s.frames) {
		if s.err != nil {
			return s.err
		}
		return io.EOF
	}
	*f = s.frames[s.i]
	s.i++
	return nil
}

func (s *sliceSource) Close() error { return nil }

// runPackets runs r through the packet path (Backend backend: "" for a
// file) into a Collector, as the commands do.
func runPackets(ctx context.Context, r FrameReader, backend string) (*Result, error) {
	var c Collector
	st, err := Run(ctx, Packets(r, PacketOptions{Backend: backend}), &c, Options{})
	return c.Result(st), err
}

// framesOf reads every frame of a pcap into memory.
func framesOf(t *testing.T, path string) []Frame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []Frame
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Frame{Data: data, TS: ci.Timestamp.UnixNano(), WireLen: ci.Length, LinkType: r.LinkType()})
	}
}

func TestRunCountsAndLiveTimeouts(t *testing.T) {
	frames := framesOf(t, filepath.Join(flowsDir, "established.pcap"))
	frames[2].Dropped = 3
	// A frame that claims IPv4 but is cut inside the IP header.
	frames = append(frames, Frame{Data: append(slices.Clone(frames[0].Data[:14]), 0x45, 0), TS: frames[len(frames)-1].TS + 1,
		WireLen: 16, LinkType: layers.LinkTypeEthernet})
	var calls atomic.Int32
	src := &sliceSource{frames: frames, timeouts: true}
	c := Collector{OnProgress: func(p Progress) {
		calls.Add(1)
		if p.ActiveFlows == nil {
			t.Error("progress without ActiveFlows")
		}
		if p.Stats.Backend != "afpacket" || p.Stats.Packets > uint64(len(frames)) {
			t.Errorf("progress stats %+v", p.Stats)
		}
	}}
	before := time.Now()
	st, err := Run(context.Background(), Packets(src, PacketOptions{Backend: "afpacket"}), &c, Options{ProgressEvery: time.Nanosecond})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	res := c.Result(st)
	if st.Packets != uint64(len(frames)) || st.IfaceDrops != 3 || st.Undecodable != 1 || st.Flows != 1 || st.Backend != "afpacket" {
		t.Errorf("stats = %+v", st)
	}
	if len(res.Flows) != 1 || res.Flows[0].State != flow.StateSF {
		t.Errorf("flows = %+v", res.Flows)
	}
	if calls.Load() == 0 {
		t.Error("Progress never called")
	}
	// A live source's window runs to its stop; its start is the first
	// packet here, which the frames date long before the run.
	if !st.Start.Equal(time.Unix(0, frames[0].TS)) || st.End.Before(before) || st.End.After(after) {
		t.Errorf("start/end = %v %v, want the first packet and the stop (%v to %v)", st.Start, st.End, before, after)
	}
}

// TestLiveWindow: a live source's Stats.Start and End are the moments
// it started and stopped, with packets or none; a file's are its first
// and last packets, and none without packets.
func TestLiveWindow(t *testing.T) {
	frames := framesOf(t, filepath.Join(flowsDir, "established.pcap"))
	queued := time.Now().Add(-10 * time.Millisecond)
	for i := range frames { // queued in the ring before the run started
		frames[i].TS = queued.Add(time.Duration(i) * time.Microsecond).UnixNano()
	}
	for _, tt := range []struct {
		name    string
		backend string
		frames  []Frame
	}{{"empty live", "afpacket", nil}, {"live", "afpacket", frames}, {"empty file", "", nil}, {"file", "", frames}} {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			st, err := Run(context.Background(), Packets(&sliceSource{frames: tt.frames, timeouts: true}, PacketOptions{Backend: tt.backend}),
				&Collector{}, Options{})
			after := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.backend == "" && len(tt.frames) == 0:
				if !st.Start.IsZero() || !st.End.IsZero() {
					t.Errorf("empty file: window %v to %v, want none", st.Start, st.End)
				}
			case tt.backend == "":
				if !st.Start.Equal(time.Unix(0, frames[0].TS)) || !st.End.Equal(time.Unix(0, frames[len(frames)-1].TS)) {
					t.Errorf("file: window %v to %v, want its first and last packets", st.Start, st.End)
				}
			default:
				// From the run's start, or the first packet when one came
				// earlier, to the stop.
				okStart := !st.Start.Before(before) && !st.Start.After(after)
				if len(tt.frames) > 0 {
					okStart = st.Start.Equal(time.Unix(0, tt.frames[0].TS))
				}
				if !okStart || st.End.Before(before) || st.End.After(after) {
					t.Errorf("live: window %v to %v, want from the run's start to its stop (%v to %v)", st.Start, st.End, before, after)
				}
				if st.Start.Location() != time.UTC || st.End.Location() != time.UTC {
					t.Errorf("window not in UTC: %v %v", st.Start, st.End)
				}
			}
		})
	}
}

func TestRunReadErrorKeepsFlows(t *testing.T) {
	frames := framesOf(t, filepath.Join(flowsDir, "refused-rst.pcap"))
	boom := errors.New("read capture x.pcap: boom")
	res, err := runPackets(context.Background(), &sliceSource{frames: frames, err: boom}, "")
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	if res == nil || len(res.Flows) != 1 || res.Flows[0].Outcome != flow.Rejected {
		t.Errorf("result = %+v", res)
	}
}

// blockingSource never yields a frame, only timeouts, like an idle wire.
type blockingSource struct{}

func (blockingSource) Next(*Frame) error { time.Sleep(time.Millisecond); return ErrTimeout }
func (blockingSource) Close() error      { return nil }

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := runPackets(ctx, blockingSource{}, ""); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

// TestRunAllocations replays 80,000 frames (10,000 short connections) and
// checks that the pipeline's allocations do not grow with the packets: the
// fixed set-up (batches, table, name cache) and a few per thousand flows
// (UID chunks) only.
func TestRunAllocations(t *testing.T) {
	base := framesOf(t, filepath.Join(flowsDir, "established.pcap"))
	span := base[len(base)-1].TS - base[0].TS + int64(10*time.Second)
	var frames []Frame
	for i := range 10000 {
		for _, f := range base {
			f.TS += int64(i) * span
			frames = append(frames, f)
		}
	}
	run := func() uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		flows := 0
		_, err := Run(context.Background(), Packets(&sliceSource{frames: frames}, PacketOptions{}),
			SinkFuncs{OnFlow: func(*flow.Flow) { flows++ }}, Options{})
		runtime.ReadMemStats(&after)
		if err != nil || flows != 10000 {
			t.Fatalf("flows=%d err=%v", flows, err)
		}
		return after.Mallocs - before.Mallocs
	}
	run() // warm up lazily initialised runtime and package state
	if n := run(); n > 2000 {
		t.Errorf("replaying %d frames made %d allocations; want a fixed set-up cost", len(frames), n)
	} else {
		t.Logf("%d frames, %d allocations", len(frames), n)
	}
}

// quietAfter yields its frames, then only timeouts, like a live wire that
// went quiet.
type quietAfter struct{ sliceSource }

func (q *quietAfter) Next(f *Frame) error {
	if q.i == len(q.frames) {
		time.Sleep(time.Millisecond)
		return ErrTimeout
	}
	return q.sliceSource.Next(f)
}

func TestRunCancelKeepsPacketsRead(t *testing.T) {
	frames := framesOf(t, filepath.Join(flowsDir, "established.pcap"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := runPackets(ctx, &quietAfter{sliceSource{frames: frames}}, "afpacket")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.Packets != uint64(len(frames)) || len(res.Flows) != 1 || res.Flows[0].State != flow.StateSF {
		t.Errorf("after cancel: %d packets, flows %+v", res.Stats.Packets, res.Flows)
	}
}
