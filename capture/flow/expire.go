package flow

import (
	"cmp"
	"slices"
)

// expire finishes every flow idle longer than its list's timeout. Queue
// heads queued long enough ago are looked at: idle flows are finished, the
// others queued again with their latest activity.
func (t *Table) expire(now int64) {
	for l := range t.queues {
		q := &t.queues[l]
		to := t.timeout[l]
		for q.n > 0 && q.peek().at+to <= now {
			qe := q.pop()
			e := &t.slab[qe.pos]
			if e.gen != qe.gen || !e.active || e.list != uint8(l) {
				continue // finished or moved since it was queued
			}
			if e.last+to <= now {
				t.finish(qe.pos, false, false)
			} else {
				q.push(qent{at: e.last, pos: qe.pos, gen: qe.gen})
			}
		}
	}
}

// evictOldest finishes the flow queued longest ago, across all lists: the
// flow idle the longest, up to the laziness of the queues.
func (t *Table) evictOldest() {
	for {
		best := -1
		for l := range t.queues {
			q := &t.queues[l]
			if q.n > 0 && (best < 0 || q.peek().at < t.queues[best].peek().at) {
				best = l
			}
		}
		if best < 0 {
			return
		}
		qe := t.queues[best].pop()
		e := &t.slab[qe.pos]
		if e.gen != qe.gen || !e.active || e.list != uint8(best) {
			continue
		}
		t.stats.Evicted++
		t.finish(qe.pos, false, true)
		return
	}
}

// Flush finishes every flow still in the table, marked Open (unless the
// connection had already closed), as at the end of input. Flows are
// finished in order of their start.
func (t *Table) Flush() {
	order := make([]int32, 0, t.idx.n)
	for i := range t.slab {
		if t.slab[i].active {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(t.slab[a].id, t.slab[b].id) })
	for _, pos := range order {
		t.finish(pos, t.slab[pos].list != listClosed, false)
	}
	for l := range t.queues {
		t.queues[l] = queue{}
	}
}

// Snapshot calls fn for each active flow, as it would be reported if it
// finished now. The *Flow is reused between calls.
func (t *Table) Snapshot(fn func(*Flow)) {
	for i := range t.slab {
		e := &t.slab[i]
		if e.active {
			t.build(int32(i), e.list != listClosed, false)
			fn(&t.scratch)
		}
	}
}

// finish removes a flow and hands its record to OnFlow.
func (t *Table) finish(pos int32, open, evicted bool) {
	e := &t.slab[pos]
	t.build(pos, open, evicted)
	t.stats.MissedBytes += t.scratch.MissedBytes
	_, slot := t.idx.find(&e.key, t.idx.hash(&e.key), t.slab)
	t.idx.remove(slot)
	e.active = false
	e.gen++
	if e.hasICMP {
		delete(t.icmpErrs, pos)
	}
	t.free = append(t.free, pos)
	if t.cfg.OnFlow != nil {
		t.cfg.OnFlow(&t.scratch)
	} else {
		t.finished = append(t.finished, *t.scratch.Clone())
	}
}
