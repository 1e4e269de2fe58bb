package analyze

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"math/rand/v2"
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

// scanPorts are the ports the generated scanners try: the usual targets,
// the lab gateway's own services among them.
var scanPorts = []uint16{21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 587, 993, 1433, 3306, 3389, 5900, 8080, 8443}

// scanFlows makes nSources scanners (two thirds IPv4 from 198.51.100.100
// up, a third IPv6 from 2001:db8:5ca::1 up; none taking part in flows)
// trying every scanPorts port of a gateway address of their family, each
// refused, dropped or open by turns (a SYN scan of an open port: SYN-ACK,
// then the scanner's RST), at times between start and end.
func scanFlows(t *testing.T, flows []flow.Flow, gw []netip.Addr, nSources int, start, end time.Time) []flow.Flow {
	t.Helper()
	used := map[netip.Addr]bool{}
	for _, f := range flows {
		used[f.Orig.Addr().Unmap()], used[f.Resp.Addr().Unmap()] = true, true
	}
	gwOf := func(v4 bool) netip.Addr {
		i := slices.IndexFunc(gw, func(a netip.Addr) bool { return a.Is4() == v4 })
		if i < 0 {
			return gw[0]
		}
		return gw[i]
	}
	rng := rand.New(rand.NewPCG(10, 10))
	span := end.Sub(start)
	var out []flow.Flow
	for s := range nSources {
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + s)})
		if s >= nSources*2/3 {
			src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x05, 0xca, 14: byte(s >> 8), 15: byte(s)})
		}
		if used[src] {
			t.Fatalf("scan source %s takes part in the capture", src)
		}
		dst := gwOf(src.Is4())
		for i, p := range scanPorts {
			at := start.Add(time.Duration(rng.Int64N(int64(span))))
			f := flow.Flow{Proto: tcp, Orig: netip.AddrPortFrom(src, uint16(40000+i)), Resp: netip.AddrPortFrom(dst, p),
				Start: at, End: at.Add(time.Millisecond), OrigPkts: 1, UID: "Cscan"}
			switch (s + i) % 3 {
			case 0:
				f.Outcome, f.RespPkts, f.History, f.State = flow.Rejected, 1, "Sr", flow.StateREJ
			case 1:
				f.Outcome, f.History, f.State = flow.Unanswered, "S", flow.StateS0
			case 2:
				f.Outcome, f.OrigPkts, f.RespPkts, f.History = flow.Established, 2, 1, "ShR"
			}
			out = append(out, f)
		}
	}
	return out
}

// mixFlows inserts extra at random places among flows (which keep their
// order), as a capture's table would finish them interleaved.
func mixFlows(flows, extra []flow.Flow) []flow.Flow {
	rng := rand.New(rand.NewPCG(11, 11))
	out := slices.Clone(flows)
	for _, f := range extra {
		i := rng.IntN(len(out) + 1)
		out = slices.Insert(out, i, f)
	}
	return out
}

// TestLabCapturesWithScans: each lab capture with 3,000 scan SYNs from
// 150 sources mixed in gives exactly the report of the capture alone
// (every verdict, count, peer, the unexpected list and the warnings),
// plus the noise line, in one call and streamed.
func TestLabCapturesWithScans(t *testing.T) {
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
			// Scans end a second before the capture does: not pending.
			scans := scanFlows(t, res.Flows, gw, 150, res.Stats.Start, res.Stats.End.Add(-time.Second))
			mixed := &capture.Result{Flows: mixFlows(res.Flows, scans), Stats: res.Stats}
			zones := map[string][]netip.Prefix{}
			for _, r := range prod.Requirements {
				for _, p := range r.Peers {
					if p.Kind == catalog.PeerZone {
						zones[p.Value] = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:b::/124")}
					}
				}
			}
			for name, opts := range map[string]Options{
				"hosts": {Products: []*catalog.Product{prod}, Features: tf.Features, Hosts: gw},
				"site":  {Products: []*catalog.Product{prod}, Site: &catalog.Site{Hosts: gw, Zones: zones, Features: tf.Features}},
			} {
				t.Run(name, func(t *testing.T) {
					base, err := Audit(res, opts)
					if err != nil {
						t.Fatal(err)
					}
					if base.Noise != nil {
						t.Fatalf("the lab capture alone has noise: %+v", base.Noise)
					}
					got, err := Audit(mixed, opts)
					if err != nil {
						t.Fatal(err)
					}
					a, err := NewAuditor(opts)
					if err != nil {
						t.Fatal(err)
					}
					for i := range mixed.Flows {
						a.Add(&mixed.Flows[i])
					}
					if s1, s2 := must(json.Marshal(got)), must(json.Marshal(a.Report(mixed.Stats))); !bytes.Equal(s1, s2) {
						t.Fatalf("streamed report differs:\n%s\n%s", s2, s1)
					}
					compareWithoutNoise(t, base, got, len(scans))
				})
			}
		})
	}
}

// compareWithoutNoise checks got is base plus n flows of noise from 150
// scanners, and nothing else.
func compareWithoutNoise(t *testing.T, base, got *Report, n int) {
	t.Helper()
	want := Noise{Flows: n, Scanners: NoiseKind{Sources: 150, Flows: n}}
	if got.Noise == nil || got.Noise.Flows != want.Flows || got.Noise.Scanners != want.Scanners ||
		got.Noise.Backscatter != want.Backscatter || got.Noise.Overflow != 0 || len(got.Noise.Ports) != noiseTopPorts {
		t.Errorf("noise %+v, want %+v and %d ports", got.Noise, want, noiseTopPorts)
	}
	noise := 0
	for i := range got.Requirements {
		noise += got.Requirements[i].NoiseFlows
		got.Requirements[i].NoiseFlows = 0
	}
	if noise == 0 {
		t.Error("no requirement counts noise flows on its port")
	}
	s := got.Summary
	s.Flows, s.Noise = s.Flows-n, 0
	if s != base.Summary {
		t.Errorf("summary %+v, alone %+v", s, base.Summary)
	}
	for i, r := range base.Requirements {
		if a, b := must(json.Marshal(r)), must(json.Marshal(got.Requirements[i])); !bytes.Equal(a, b) {
			t.Errorf("%s differs:\nwith scans %s\nalone      %s", r.ID, b, a)
		}
	}
	if a, b := must(json.Marshal(base.Unexpected)), must(json.Marshal(got.Unexpected)); !bytes.Equal(a, b) {
		t.Errorf("unexpected differs:\nwith scans %s\nalone      %s", b, a)
	}
	if !slices.Equal(base.Warnings, got.Warnings) {
		t.Errorf("warnings differ:\nwith scans %q\nalone      %q", got.Warnings, base.Warnings)
	}
}
