package session

import (
	"iter"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// overlaps finds, while Merged.Flows runs, the flows that two sessions of
// one node both recorded. Only sessions of one node whose spans overlap
// can: a session's flows are looked up when an earlier such session
// exists, and their keys kept when a later one does. Sessions of
// different nodes, or of one node at different times, keep nothing. An
// open flow whose key is kept is held back (packed) until the end, in
// case a later session finished it.
type overlaps struct {
	laterOK   []bool                          // a later session of the node overlaps this one
	earlierOK []bool                          // an earlier one does
	seen      map[string]map[flowKey]seenFlow // by node
	held      []flow.Packed
	pack      *flow.PackTable
	dups      map[string]int
}

// seenFlow is a flow whose key is kept: the session that recorded it,
// and its place in held when it was open (else -1).
type seenFlow struct {
	session int
	held    int
}

func newOverlaps(m *Merged) *overlaps {
	n := len(m.infos)
	o := &overlaps{laterOK: make([]bool, n), earlierOK: make([]bool, n),
		seen: map[string]map[flowKey]seenFlow{}, dups: map[string]int{}}
	spans := make([]span, n)
	for i, info := range m.infos {
		spans[i] = spanOf(info)
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			if m.nodes[i] != m.nodes[j] {
				continue
			}
			if overlap(spans[i], spans[j]) {
				o.laterOK[i], o.earlierOK[j] = true, true
			}
		}
	}
	return o
}

// skip reports whether f, of session i, is not to be yielded now: an
// earlier session of its node recorded it (counted once: the finished
// copy is kept, held back if the earlier one was open), or it is open
// and a later session may finish it (held back).
func (o *overlaps) skip(i int, f *flow.Flow) bool {
	if !o.earlierOK[i] && !o.laterOK[i] {
		return false
	}
	seen := o.seen[f.Node]
	if seen == nil {
		seen = map[flowKey]seenFlow{}
		o.seen[f.Node] = seen
	}
	k := keyOf(f)
	if o.earlierOK[i] {
		if s, ok := seen[k]; ok && s.session != i {
			o.dups[f.Node]++
			if s.held >= 0 && !f.Open {
				o.held[s.held] = o.packer().Pack(f)
			}
			return true
		}
	}
	if !o.laterOK[i] {
		return false
	}
	if _, ok := seen[k]; ok {
		return false // one session's flows are never merged with each other
	}
	if !f.Open {
		seen[k] = seenFlow{session: i, held: -1}
		return false
	}
	o.held = append(o.held, o.packer().Pack(f))
	seen[k] = seenFlow{session: i, held: len(o.held) - 1}
	return true
}

func (o *overlaps) packer() *flow.PackTable {
	if o.pack == nil {
		o.pack = flow.NewPackTable()
	}
	return o.pack
}

// deferred iterates over the flows held back.
func (o *overlaps) deferred() iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		var f flow.Flow
		for i := range o.held {
			o.pack.Unpack(&o.held[i], &f)
			if !yield(&f) {
				return
			}
		}
	}
}
