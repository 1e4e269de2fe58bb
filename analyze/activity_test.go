package analyze

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// TestActivity: the counts are exact, in the narrowest power-of-two
// width that holds every flow in 128 buckets, whatever the order the
// flows came in.
func TestActivity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, span := range []time.Duration{0, 90 * time.Millisecond, 6 * time.Second, 3 * time.Hour, 40 * 24 * time.Hour} {
		var times []time.Time
		for range 500 {
			times = append(times, t0.Add(time.Duration(rng.Int64N(int64(span)+1))))
		}
		times = append(times, t0, t0.Add(span))
		kinds := make([]int, len(times))
		for i := range kinds {
			kinds[i] = i % 3
		}
		var first *Activity
		for order := range 3 {
			if order > 0 {
				rng.Shuffle(len(times), func(i, j int) {
					times[i], times[j] = times[j], times[i]
					kinds[i], kinds[j] = kinds[j], kinds[i]
				})
			}
			a := newActivity(times[0])
			for i, tm := range times {
				a.add(tm, kinds[i])
			}
			got := a.report(sides{})
			if first == nil {
				first = got
				checkActivity(t, got, times, span)
				continue
			}
			if !got.Start.Equal(first.Start) || got.BucketMS != first.BucketMS || !slices.Equal(got.Established, first.Established) ||
				!slices.Equal(got.Failed, first.Failed) || !slices.Equal(got.Other, first.Other) {
				t.Errorf("span %v: order %d gives %+v, first order %+v", span, order, got, first)
			}
		}
	}
}

func checkActivity(t *testing.T, a *Activity, times []time.Time, span time.Duration) {
	t.Helper()
	n := len(a.Established)
	if n > activityBuckets || n != len(a.Failed) || n != len(a.Other) {
		t.Fatalf("span %v: %d/%d/%d buckets", span, n, len(a.Failed), len(a.Other))
	}
	width := time.Duration(a.BucketMS) * time.Millisecond
	if a.BucketMS&(a.BucketMS-1) != 0 || (a.BucketMS > 1 && time.Duration(activityBuckets)*width/2 > span+width) {
		t.Errorf("span %v: bucket %d ms is not the narrowest power of two", span, a.BucketMS)
	}
	for _, tm := range times {
		i := int(tm.Sub(a.Start) / width)
		if i < 0 || i >= n {
			t.Fatalf("span %v: time %v outside the buckets from %v (%d x %v)", span, tm, a.Start, n, width)
		}
	}
	sum := 0
	for i := range n {
		sum += a.Established[i] + a.Failed[i] + a.Other[i]
	}
	if sum != len(times) || a.Established[0]+a.Failed[0]+a.Other[0] == 0 || a.Established[n-1]+a.Failed[n-1]+a.Other[n-1] == 0 {
		t.Errorf("span %v: %d flows counted of %d, or an empty first or last bucket", span, sum, len(times))
	}
}

// TestActivityInReport: a requirement reports its activity only when
// its timeline could not keep every flow; an unexpected group always.
func TestActivityInReport(t *testing.T) {
	var flows []flow.Flow
	for i := range MaxTimeline + 20 {
		out := flow.Established
		if i%10 == 0 {
			out = flow.Unanswered
		}
		flows = append(flows, fl(tcp, gw4+":40000", "203.0.113.5:25", out, at(i)))
	}
	flows = append(flows, fl(tcp, gw4+":40001", "203.0.113.6:6667", flow.Established, at(3)), fl(udp, gw4+":123", "203.0.113.7:123", flow.Established))
	p := product("p", req("smtp", catalog.Out, catalog.TCP, port(25)), req("ntp", catalog.Out, catalog.UDP, port(123)))
	rep := audit(t, flows, Options{Products: []*catalog.Product{p}})
	smtp := findReq(t, rep, "smtp")
	if smtp.Activity == nil || sum(smtp.Activity.Established) != MaxTimeline+20-12 || sum(smtp.Activity.Failed) != 12 {
		t.Errorf("smtp activity %+v", smtp.Activity)
	}
	if a := findReq(t, rep, "ntp").Activity; a != nil {
		t.Errorf("ntp keeps its one flow on the timeline; activity %+v", a)
	}
	if len(rep.Unexpected) != 1 || rep.Unexpected[0].Activity == nil || sum(rep.Unexpected[0].Activity.Established) != 1 ||
		!rep.Unexpected[0].Activity.Start.Equal(t0.Add(3*time.Second)) {
		t.Errorf("unexpected %+v", rep.Unexpected)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
