package labtest

import (
	"context"
	"sync"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// LiveProgressEvery is how often a Live's source offers progress.
const LiveProgressEvery = 50 * time.Millisecond

// Live runs a live capture.Source in the background into a Collector, as
// the capture command runs one, for tests: Snapshot for what a progress
// display sees, Stop for the end of the capture, Ended for a capture that
// ended by itself.
type Live struct {
	cancel context.CancelFunc
	ended  chan struct{}

	mu       sync.Mutex
	col      capture.Collector
	active   []flow.Flow
	prog     capture.Stats
	wantSnap bool
	snapped  chan struct{}
	st       capture.Stats
	err      error
	res      *capture.Result
}

// RunLive starts capture.Run(src) on a goroutine.
func RunLive(src capture.Source) *Live {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Live{cancel: cancel, ended: make(chan struct{}), snapped: make(chan struct{}, 1)}
	go func() {
		defer close(l.ended)
		st, err := capture.Run(ctx, src, l, capture.Options{ProgressEvery: LiveProgressEvery})
		l.mu.Lock()
		l.st, l.err = st, err
		l.mu.Unlock()
	}()
	return l
}

// Flow implements capture.Sink.
func (l *Live) Flow(f *flow.Flow) {
	l.mu.Lock()
	l.col.Flow(f)
	l.mu.Unlock()
}

// Progress implements capture.Sink: it copies the open flows when a
// Snapshot waits for them.
func (l *Live) Progress(p capture.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prog = p.Stats
	if !l.wantSnap || p.ActiveFlows == nil {
		return
	}
	l.wantSnap = false
	l.active = l.active[:0]
	for f := range p.ActiveFlows {
		l.active = append(l.active, *f.Clone())
	}
	select {
	case l.snapped <- struct{}{}:
	default:
	}
}

// Snapshot waits (at most a second) for the next progress report and
// returns the flows finished so far and those then open, with the
// statistics it carried; after the end, the final result.
func (l *Live) Snapshot() capture.Result {
	l.mu.Lock()
	l.wantSnap = true
	l.mu.Unlock()
	select {
	case <-l.snapped:
	case <-l.ended:
	case <-time.After(time.Second):
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := capture.Result{Stats: l.prog}
	r.Flows = append(append(r.Flows, l.col.Flows...), l.active...)
	select {
	case <-l.ended:
		r = capture.Result{Flows: append([]flow.Flow(nil), l.col.Flows...), Stats: l.st}
	default:
	}
	return r
}

// Delivered returns the flows delivered so far (finished, not open ones).
func (l *Live) Delivered() []flow.Flow {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]flow.Flow(nil), l.col.Flows...)
}

// Ended is closed when Run has returned: stopped, or ended by itself.
func (l *Live) Ended() <-chan struct{} { return l.ended }

// Stop cancels the capture, waits for Run to return and gives every flow
// with Run's statistics and error. Calling it again gives the same.
func (l *Live) Stop() (*capture.Result, error) {
	l.cancel()
	<-l.ended
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.res == nil {
		l.res = l.col.Result(l.st)
	}
	return l.res, l.err
}
