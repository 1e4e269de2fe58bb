package live

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// liveProgressEvery is how often the running capture can refresh what
// Snapshot returns; snapshotWait bounds how long Snapshot waits for it.
const (
	liveProgressEvery = 250 * time.Millisecond
	snapshotWait      = time.Second
)

// liveRun runs a live FrameReader through Run in a goroutine and keeps what
// Snapshot needs: finished flows as they come, and the active flows as of
// the last progress tick (computed only when someone asked).
type liveRun struct {
	backend, iface string
	names          *naming.Cache
	// kernel returns the backend's drop counter (may be nil).
	kernel func() uint64

	mu       sync.Mutex
	finished []flow.Flow
	active   []flow.Flow
	prog     capture.Progress
	wantSnap atomic.Bool
	// snapped is signalled when onProgress has refreshed active.
	snapped chan struct{}

	done chan struct{}
	res  *capture.Result
	err  error
}

// startLiveRun starts Run(ctx, src) in a goroutine. The source must end
// (io.EOF) on its own when asked to stop; ctx only backs that up.
func startLiveRun(ctx context.Context, src capture.FrameReader, backend, iface string, maxFlows int, kernel func() uint64) *liveRun {
	lr := &liveRun{backend: backend, iface: iface, names: naming.NewCache(), kernel: kernel,
		done: make(chan struct{}), snapped: make(chan struct{}, 1)}
	opts := capture.Options{
		Table:         flow.Config{MaxFlows: maxFlows},
		OnFlow:        lr.onFlow,
		Progress:      lr.onProgress,
		ProgressEvery: liveProgressEvery,
		Names:         lr.names,
		Backend:       backend,
	}
	go func() {
		defer close(lr.done)
		res, err := capture.Run(ctx, src, opts)
		lr.mu.Lock()
		defer lr.mu.Unlock()
		if res == nil {
			res = &capture.Result{}
		}
		// With OnFlow set, Run keeps no flows: they are in lr.finished.
		res.Flows = lr.finished
		lr.finished = nil
		lr.active = nil
		res.Stats.Backend = backend
		res.Stats.Iface = iface
		if kernel != nil {
			res.Stats.KernelDrops = kernel()
		}
		lr.res, lr.err = res, err
	}()
	return lr
}

// onFlow keeps a finished flow (called on Run's goroutine).
func (lr *liveRun) onFlow(f *flow.Flow) {
	c := f.Clone()
	lr.mu.Lock()
	lr.finished = append(lr.finished, *c)
	lr.mu.Unlock()
}

// onProgress records counters and, when a Snapshot was asked for since
// the last tick, copies the active flows with their names.
func (lr *liveRun) onProgress(p capture.Progress) {
	var active []flow.Flow
	if lr.wantSnap.Swap(false) && p.Snapshot != nil {
		active = make([]flow.Flow, 0, p.Active)
		p.Snapshot(func(f *flow.Flow) {
			c := f.Clone()
			ts := c.Start.UnixNano()
			c.OrigNames = lr.names.Names(c.Orig.Addr(), ts)
			c.RespNames = lr.names.Names(c.Resp.Addr(), ts)
			active = append(active, *c)
		})
	}
	p.Snapshot = nil
	lr.mu.Lock()
	lr.prog = p
	if active != nil {
		lr.active = active
	}
	lr.mu.Unlock()
	if active != nil {
		select {
		case lr.snapped <- struct{}{}:
		default:
		}
	}
}

// Snapshot returns finished flows and the active ones, copied on the
// capture's goroutine at its next progress tick (Snapshot waits for it, at
// most snapshotWait), with the statistics so far.
func (lr *liveRun) Snapshot() capture.Result {
	select {
	case <-lr.snapped: // a stale signal from an earlier request
	default:
	}
	lr.wantSnap.Store(true)
	select {
	case <-lr.snapped:
	case <-lr.done:
	case <-time.After(snapshotWait):
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.res != nil {
		// Finished: the final result is the best snapshot.
		r := *lr.res
		r.Flows = append([]flow.Flow(nil), lr.res.Flows...)
		return r
	}
	r := capture.Result{Flows: make([]flow.Flow, 0, len(lr.finished)+len(lr.active))}
	r.Flows = append(r.Flows, lr.finished...)
	r.Flows = append(r.Flows, lr.active...)
	st := &r.Stats
	st.Backend, st.Iface = lr.backend, lr.iface
	st.Packets, st.Bytes, st.Flows = lr.prog.Packets, lr.prog.Bytes, lr.prog.Flows
	if lr.prog.Last != 0 {
		st.End = time.Unix(0, lr.prog.Last).UTC()
	}
	if lr.kernel != nil {
		st.KernelDrops = lr.kernel()
	}
	return r
}

// Done is closed when the capture has ended, asked to or not (the
// interface went down or away): the capture command then stops at once.
func (lr *liveRun) Done() <-chan struct{} { return lr.done }

// wait waits for Run to return and hands over its result.
func (lr *liveRun) wait() (*capture.Result, error) {
	<-lr.done
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.res, lr.err
}
