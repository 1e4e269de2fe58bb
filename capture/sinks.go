package capture

import (
	"github.com/flowaudit/flowaudit/capture/flow"
)

// SinkFuncs adapts functions to a Sink; a nil field ignores what it would
// receive.
type SinkFuncs struct {
	OnFlow     func(*flow.Flow)
	OnProgress func(Progress)
}

// Flow calls OnFlow.
func (s SinkFuncs) Flow(f *flow.Flow) {
	if s.OnFlow != nil {
		s.OnFlow(f)
	}
}

// Progress calls OnProgress.
func (s SinkFuncs) Progress(p Progress) {
	if s.OnProgress != nil {
		s.OnProgress(p)
	}
}

// Tee returns a Sink handing everything to each of sinks in turn (nil
// interface values skipped; a nil pointer in an interface is not nil). A
// sink must not change the flow it receives, since the next one sees the
// same *Flow.
func Tee(sinks ...Sink) Sink {
	var t tee
	for _, s := range sinks {
		if s != nil {
			t = append(t, s)
		}
	}
	if len(t) == 1 {
		return t[0]
	}
	return t
}

type tee []Sink

func (t tee) Flow(f *flow.Flow) {
	for _, s := range t {
		s.Flow(f)
	}
}

func (t tee) Progress(p Progress) {
	for _, s := range t {
		s.Progress(p)
	}
}

// Collector is a Sink that keeps a copy of every flow, for consumers that
// need them all at once (`flows` sorts them; session files and tests).
// Its memory grows with the flows: streaming consumers use their own Sink.
// The zero value is ready; OnProgress, when set, receives Progress.
type Collector struct {
	Flows      []flow.Flow
	OnProgress func(Progress)
}

// Flow keeps a copy of f.
func (c *Collector) Flow(f *flow.Flow) {
	// Copy in place rather than through Clone: the Emitter allocated the
	// names for this flow already; what else it points to may be reused.
	c.Flows = append(c.Flows, *f)
	k := &c.Flows[len(c.Flows)-1]
	if f.ICMP != nil {
		ic := *f.ICMP
		k.ICMP = &ic
	}
	if f.Process != nil {
		pr := *f.Process
		k.Process = &pr
	}
	if f.LocalDrop != nil {
		ld := *f.LocalDrop
		k.LocalDrop = &ld
	}
}

// Progress calls OnProgress.
func (c *Collector) Progress(p Progress) {
	if c.OnProgress != nil {
		c.OnProgress(p)
	}
}

// Result returns the flows kept with st as a Result (Flows never nil).
func (c *Collector) Result(st Stats) *Result {
	fs := c.Flows
	if fs == nil {
		fs = []flow.Flow{}
	}
	return &Result{Flows: fs, Stats: st}
}
