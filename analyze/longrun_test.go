package analyze

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
	"github.com/flowaudit/flowaudit/catalog"
)

// memPoint is what the day test measures at one point of the run.
type memPoint struct {
	at        time.Duration // simulated time into the day
	flows     uint64        // flows delivered to the Auditor so far
	active    int           // flows open in the table
	heap      uint64        // live heap after a collection
	mallocs   uint64        // allocations so far outside Snapshot (the work per flow, roughly)
	snapBytes uint64        // bytes one Snapshot allocated
}

// dayProbe is the live path's sink in the day test: the Auditor, a
// Snapshot every simulated minute (as the live view asks on a redraw),
// and measurements at the marks (fractions of the day).
type dayProbe struct {
	aud      *Auditor
	start    time.Time
	day      time.Duration
	nextSnap time.Time
	marks    []float64
	points   []memPoint
	flows    uint64
	snaps    int
	// snapMallocs are the allocations made inside Snapshot so far.
	snapMallocs uint64
}

func (p *dayProbe) Flow(f *flow.Flow) {
	p.aud.Add(f)
	p.flows++
}

func (p *dayProbe) Progress(pr capture.Progress) {
	now := pr.Stats.End
	if now.Before(p.nextSnap) {
		return
	}
	for !p.nextSnap.After(now) {
		p.nextSnap = p.nextSnap.Add(time.Minute)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p.aud.Snapshot(pr.Stats, pr.ActiveFlows)
	runtime.ReadMemStats(&after)
	p.snaps++
	p.snapMallocs += after.Mallocs - before.Mallocs
	at := now.Sub(p.start)
	if len(p.marks) == 0 || float64(at) < p.marks[0]*float64(p.day) {
		return
	}
	p.marks = p.marks[1:]
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.points = append(p.points, memPoint{at: at, flows: p.flows, active: pr.Active, heap: ms.HeapAlloc,
		mallocs: before.Mallocs - (p.snapMallocs - (after.Mallocs - before.Mallocs)), snapBytes: after.TotalAlloc - before.TotalAlloc})
}

// dayRun runs a simulated day (perSec flows a second on average) through
// capture.Run into an Auditor with opts (its products and hosts set
// here) and names, and returns the measurements at 1, 10, 90 and 99 %
// of the day with the final statistics and report.
func dayRun(t *testing.T, perSec int, opts Options, names *naming.Cache) ([]memPoint, capture.Stats, *Report) {
	t.Helper()
	day := 24 * time.Hour
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	mc, err := cat.Product("mailcleaner")
	if err != nil {
		t.Fatal(err)
	}
	opts.Products = []*catalog.Product{mc}
	opts.Hosts = []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	aud, err := NewAuditor(opts)
	if err != nil {
		t.Fatal(err)
	}
	probe := &dayProbe{aud: aud, start: start, day: day, nextSnap: start, marks: []float64{0.01, 0.10, 0.90, 0.99}}
	gen := newDayGen(1, perSec, start, day)
	began := time.Now()
	st, err := capture.Run(context.Background(), capture.Packets(gen, capture.PacketOptions{}), probe,
		capture.Options{ProgressEvery: time.Nanosecond, Names: names})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if len(probe.points) != 4 {
		t.Fatalf("measured at %d marks, want 4", len(probe.points))
	}
	for _, m := range probe.points {
		t.Logf("at %4.1f h: %6d flows (%2d open), heap %4.1f MiB, a Snapshot allocates %6.1f KiB",
			m.at.Hours(), m.flows, m.active, mib(m.heap), float64(m.snapBytes)/1024)
	}
	t.Logf("%d packets, %d flows, %d snapshots in %v", st.Packets, st.Flows, probe.snaps, took.Round(time.Millisecond))
	return probe.points, st, aud.Report(st)
}

// perFlow is the allocations per flow (Snapshots left out) between two
// points.
func perFlow(a, b memPoint) float64 { return float64(b.mallocs-a.mallocs) / float64(b.flows-a.flows) }

// TestLiveDayFlatMemory is issue 11's target for the live path: a
// simulated day of a mail gateway's traffic (generated frames on a fake
// clock: outbound SMTP, DNS, HTTP(S) to many peers, inbound SMTP from
// many sources, unanswered and refused attempts, scanners, an ICMP
// error) goes through capture.Run into the Auditor, with a Snapshot every
// simulated minute, as the live view asks for one. Between 1 % and 99 %
// of the day the flows grow about 100x; the live heap after a
// collection, the cost of a Snapshot and the work per flow must not grow
// with them. What the pipeline and the Auditor hold is bounded by their
// options (flow table, name cache, scanner test's sources, peers kept per
// requirement), so the test runs with small such bounds, which the day
// reaches early: from then on (10 % to 99 %) everything must be flat. A
// second run with the default bounds checks the fixed bound they allow.
// docs/PERFORMANCE.md ("The live path over a day") has the figures.
func TestLiveDayFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day of traffic (several seconds)")
	}
	small := naming.NewCacheOptions(naming.Options{MaxAddrs: 512})
	pts, st, rep := dayRun(t, 2, Options{NoiseSources: 256}, small)
	first, tenth, ninth, last := pts[0], pts[1], pts[2], pts[3]
	early, late := perFlow(first, tenth), perFlow(ninth, last)
	t.Logf("allocations per flow: %.1f (1-10 %%), %.1f (90-99 %%)", early, late)
	if ratio := float64(last.flows) / float64(first.flows); ratio < 90 {
		t.Fatalf("flows grew %.0fx between 1 %% and 99 %%, want about 100x", ratio)
	}
	if last.heap > tenth.heap+dayFlatSlack || last.heap > first.heap+dayFlatGrowth {
		t.Errorf("heap %.1f MiB at 99 %% (%d flows), %.1f MiB at 10 %%, %.1f MiB at 1 %% (%d flows): it grows with the run",
			mib(last.heap), last.flows, mib(tenth.heap), mib(first.heap), first.flows)
	}
	if float64(last.snapBytes) > 1.25*float64(tenth.snapBytes) {
		t.Errorf("a Snapshot allocates %d bytes at 99 %%, %d at 10 %%: it grows with the run", last.snapBytes, tenth.snapBytes)
	}
	if late > 1.25*early+0.5 {
		t.Errorf("allocations per flow grew from %.1f to %.1f over the day", early, late)
	}
	checkDayReport(t, rep, st)

	// The defaults: the scanner test's table (32,768 sources) and the
	// name cache do not fill in this day, but what they may reach is
	// bounded all the same.
	pts, st, rep = dayRun(t, 2, Options{}, nil)
	if last := pts[3]; last.heap > dayHeapBound {
		t.Errorf("default bounds: heap %.1f MiB at 99 %% of the day, want at most %.0f MiB", mib(last.heap), mib(dayHeapBound))
	}
	checkDayReport(t, rep, st)
}

// Bounds of TestLiveDayFlatMemory: once the small bounds are reached the
// heap may vary by dayFlatSlack (collection timing, the table's open
// flows); from 1 % of the day it may grow by dayFlatGrowth as they are
// reached. With the default bounds it stays under dayHeapBound (the name
// cache's 15 MiB and the scanner test's table at most ~15 MiB, plus the
// flow table and the tally).
const (
	dayFlatSlack  = 1 << 20
	dayFlatGrowth = 4 << 20
	dayHeapBound  = 64 << 20
)

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// checkDayReport checks that the day's report is the one its traffic
// makes: every flow counted, the working directions ok, the failures
// found.
func checkDayReport(t *testing.T, rep *Report, st capture.Stats) {
	t.Helper()
	if uint64(rep.Summary.Flows) != st.Flows {
		t.Errorf("report counts %d flows of %d", rep.Summary.Flows, st.Flows)
	}
	want := map[string]Status{
		"mailcleaner/in-tcp-25-smtp":     OK,
		"mailcleaner/out-tcp-25-smtp":    Partial,
		"mailcleaner/out-udp-53-dns":     OK,
		"mailcleaner/out-tcp-443-web":    OK,
		"mailcleaner/out-tcp-2703-razor": Blocked,
		"mailcleaner/out-udp-6277-dcc":   Blocked,
	}
	for _, r := range rep.Requirements {
		if s, ok := want[r.ID]; ok && r.Status != s {
			t.Errorf("%s: %s, want %s", r.ID, r.Status, s)
		}
	}
}
