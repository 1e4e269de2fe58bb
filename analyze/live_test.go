package analyze

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
)

func reportJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seqOf yields pointers to copies of flows (Snapshot's caller may reuse
// what it yields).
func seqOf(flows []flow.Flow) func(func(*flow.Flow) bool) {
	return func(yield func(*flow.Flow) bool) {
		var f flow.Flow
		for i := range flows {
			f = flows[i]
			if !yield(&f) {
				return
			}
		}
	}
}

// TestSnapshotIsReportOfActive: over each lab capture with scanners mixed
// in (the scanner test holds and decides sources), a Snapshot with some
// flows still active is exactly the Report of an Auditor that got those
// flows too, and leaves its Auditor as it was: its later Report and
// Snapshot are those of an Auditor that never made one. With gateway
// addresses given and inferred.
func TestSnapshotIsReportOfActive(t *testing.T) {
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range labCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tf := loadTruth(t, path)
			prod, err := cat.Product(cmp.Or(tf.Product, scenarioProducts[tf.Scenario], tf.Scenario))
			if err != nil {
				t.Skipf("truth names product: %v", err)
			}
			res, err := pcapfile.ReadFiles(context.Background(), []string{path}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var gw []netip.Addr
			for _, g := range tf.Gateway {
				gw = append(gw, netip.MustParseAddr(g))
			}
			flows := mixFlows(res.Flows, scanFlows(t, res.Flows, gw, 40, res.Stats.Start, res.Stats.End))
			cut := len(flows) * 2 / 3
			done, active := flows[:cut], slices.Clone(flows[cut:])
			for i := range active {
				if i%2 == 0 && active[i].Outcome == flow.Unanswered {
					active[i].Open = true // still waiting for an answer: pending or failed by its age
				}
			}
			for _, mode := range []string{"hosts", "inferred"} {
				t.Run(mode, func(t *testing.T) {
					opts := Options{Products: []*catalog.Product{prod}, Features: tf.Features}
					if mode == "hosts" {
						opts.Hosts = gw
					}
					checkSnapshot(t, opts, res.Stats, done, active)
				})
			}
		})
	}
}

func checkSnapshot(t *testing.T, opts Options, st capture.Stats, done, active []flow.Flow) {
	t.Helper()
	auditor := func(flows ...[]flow.Flow) *Auditor {
		a, err := NewAuditor(opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, fs := range flows {
			for i := range fs {
				a.Add(&fs[i])
			}
		}
		return a
	}
	live := auditor(done)
	snap := reportJSON(t, live.Snapshot(st, seqOf(active)))
	if want := reportJSON(t, auditor(done, active).Report(st)); !bytes.Equal(snap, want) {
		t.Errorf("Snapshot differs from the Report with the active flows added:\n%s\nwant\n%s", snap, want)
	}
	again := reportJSON(t, live.Snapshot(st, seqOf(active)))
	if !bytes.Equal(again, snap) {
		t.Error("a second Snapshot differs from the first: the first changed the Auditor")
	}
	if got, want := reportJSON(t, live.Report(st)), reportJSON(t, auditor(done).Report(st)); !bytes.Equal(got, want) {
		t.Errorf("Report after Snapshots differs from one without:\n%s\nwant\n%s", got, want)
	}
	if empty, want := reportJSON(t, live.Snapshot(st, nil)), reportJSON(t, auditor(done).Report(st)); !bytes.Equal(empty, want) {
		t.Error("Snapshot without active flows differs from Report")
	}
}

// TestAddHosts: an address added during a live capture counts for the
// flows added after it (earlier ones are not audited again); an Auditor
// that was inferring its addresses audits what it held with the ones it
// is given; addresses it has already change nothing.
func TestAddHosts(t *testing.T) {
	prod := product("p", req("out-smtp", catalog.Out, catalog.TCP, port(25)))
	gw6 := "2001:db8::10"
	first := fl(tcp, "["+gw6+"]:40000", "[2001:db8:5::25]:25", flow.Established)
	second := fl(tcp, "["+gw6+"]:40001", "[2001:db8:5::25]:25", flow.Established, at(5))

	a, err := NewAuditor(Options{Products: []*catalog.Product{prod}, Gateway: iface(gw4)})
	if err != nil {
		t.Fatal(err)
	}
	a.Add(&first)
	a.AddHosts(iface(gw6, gw4))
	a.Add(&second)
	rep := a.Report(capture.Stats{})
	if want := []netip.Addr{netip.MustParseAddr(gw4), netip.MustParseAddr(gw6)}; !slices.Equal(rep.Hosts.Addrs, want) ||
		rep.Hosts.How != "interface gw0 addresses" || rep.Hosts.Inferred {
		t.Errorf("hosts %+v", rep.Hosts)
	}
	if rep.Summary.Transit != 1 || rep.Requirements[0].Counts.Flows != 1 {
		t.Errorf("transit %d, requirement flows %d: want the earlier flow transit, the later one counted",
			rep.Summary.Transit, rep.Requirements[0].Counts.Flows)
	}

	inf, err := NewAuditor(Options{Products: []*catalog.Product{prod}})
	if err != nil {
		t.Fatal(err)
	}
	inf.Add(&first)
	inf.AddHosts(iface(gw6))
	inf.Add(&second)
	rep = inf.Report(capture.Stats{})
	if inf.KeepsFlows() || rep.Hosts.Inferred || rep.Summary.Transit != 0 || rep.Requirements[0].Counts.Flows != 2 {
		t.Errorf("from inferring: keeps flows %v, hosts %+v, transit %d, flows %d", inf.KeepsFlows(), rep.Hosts,
			rep.Summary.Transit, rep.Requirements[0].Counts.Flows)
	}
	before := reportJSON(t, inf.Report(capture.Stats{End: t0.Add(time.Minute)}))
	inf.AddHosts(ResolveHosts(HostsInput{Flag: []netip.Addr{netip.MustParseAddr(gw6)}}))
	if after := reportJSON(t, inf.Report(capture.Stats{End: t0.Add(time.Minute)})); !bytes.Equal(before, after) {
		t.Error("adding a known address changed the report")
	}
}

// iface is the decision a capture on gw0 with addrs makes.
func iface(addrs ...string) capture.HostsDecision {
	in := HostsInput{Iface: "gw0"}
	for _, a := range addrs {
		in.IfaceAddrs = append(in.IfaceAddrs, netip.MustParseAddr(a))
	}
	return ResolveHosts(in)
}
