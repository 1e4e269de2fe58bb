package analyze

import (
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// activityBuckets bounds the buckets of an Activity: 128 columns of
// counts are enough for a density strip across a page, and cost a
// requirement or unexpected group 3 KiB (six counters a bucket), allocated
// with its first flow.
const activityBuckets = 128

// Activity counts flows over time in equal buckets, for a density view of
// more flows than a timeline keeps. Buckets are BucketMS milliseconds
// wide (a power of two), aligned to the Unix epoch; Start is the start of
// the first bucket, which holds the first flow, and the arrays (same
// length, at most 128) count the flows that started in each bucket by
// outcome: Other holds unknown, pending and inconclusive flows. The width is the
// narrowest that holds every flow, so the counts are exact and do not
// depend on the order the flows came in.
type Activity struct {
	Start       time.Time `json:"start"`
	BucketMS    int64     `json:"bucket_ms"`
	Established []int     `json:"established"`
	Failed      []int     `json:"failed"`
	Other       []int     `json:"other"`
}

// Activity kinds: the counters of one bucket. The provisional kinds count
// flows whose outcome the capture's coverage decides at Report (prov):
// failures or inconclusive, rejections or unknown, replies or unknown.
const (
	actEstablished = iota
	actFailed
	actOther
	actProvFails
	actProvRejects
	actProvAnswers
	numActKinds
)

// provKinds pairs the provisional activity kinds with their classes.
var provKinds = [...]struct {
	kind int
	p    prov
}{{actProvFails, provNoAnswer}, {actProvRejects, provRespReject}, {actProvAnswers, provRespAnswer}}

// activity gathers an Activity in fixed memory: bucket i holds the
// flows of bucket index lo+i, an index counting buckets of 1 ms << shift
// from the Unix epoch. lo is the lowest index with a flow; when a flow
// falls outside what 128 buckets from the lowest to the highest index can
// hold, the buckets are merged in pairs (the width doubles) until it fits.
type activity struct {
	shift  uint8
	lo, hi int64 // lowest and highest index with a flow
	counts [activityBuckets][numActKinds]uint32
}

// newActivity starts an activity with its first flow's start.
func newActivity(t time.Time) *activity {
	ms := t.UnixMilli()
	return &activity{lo: ms, hi: ms}
}

// add counts one flow that started at t.
func (a *activity) add(t time.Time, kind int) {
	ms := t.UnixMilli()
	for {
		i := ms >> a.shift // arithmetic shift: floors before 1970 too
		lo, hi := min(a.lo, i), max(a.hi, i)
		if hi-lo < activityBuckets {
			if lo < a.lo {
				// Move the buckets up to make room below.
				d := a.lo - lo
				copy(a.counts[d:], a.counts[:activityBuckets-d])
				clear(a.counts[:d])
			}
			a.lo, a.hi = lo, hi
			a.counts[i-lo][kind]++
			return
		}
		a.coarsen()
	}
}

// coarsen doubles the bucket width, merging buckets in pairs.
func (a *activity) coarsen() {
	var merged [activityBuckets][numActKinds]uint32
	lo := a.lo >> 1
	for i := int64(0); i <= a.hi-a.lo; i++ {
		j := (a.lo+i)>>1 - lo
		for k := range merged[j] {
			merged[j][k] += a.counts[i][k]
		}
	}
	a.counts = merged
	a.lo, a.hi = lo, a.hi>>1
	a.shift++
}

// report returns the Activity, with the provisional kinds counted as s
// decides; nil when no flow was counted.
func (a *activity) report(s sides) *Activity {
	if a == nil {
		return nil
	}
	n := int(a.hi-a.lo) + 1
	out := &Activity{Start: time.UnixMilli(a.lo << a.shift).UTC(), BucketMS: 1 << a.shift,
		Established: make([]int, n), Failed: make([]int, n), Other: make([]int, n)}
	for i := range n {
		c := a.counts[i]
		out.Established[i], out.Failed[i], out.Other[i] = int(c[actEstablished]), int(c[actFailed]), int(c[actOther])
		for _, pk := range provKinds {
			switch o, inc := s.resolve(pk.p); {
			case inc || o == flow.Unknown:
				out.Other[i] += int(c[pk.kind])
			case o == flow.Established:
				out.Established[i] += int(c[pk.kind])
			default:
				out.Failed[i] += int(c[pk.kind])
			}
		}
	}
	return out
}
