package analyze

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

func TestReportLossSignals(t *testing.T) {
	// cut is what the loss warning adds when the input was not read to its
	// end: verdicts of attempts just before the cut may be wrong too.
	const cut = "; the input was not read to its end, so blocked and partial verdicts may be wrong too for attempts just before the cut whose answers were not read"
	const truncated = "read capture trunc.pcap: after 44 frames: unexpected EOF (truncated: flows up to this point are kept)"
	tests := []struct {
		name string
		st   capture.Stats
		loss []string
		// warnings must all be among the report's top-level warnings.
		warnings []string
	}{
		{"clean", capture.Stats{Packets: 8}, []string{}, nil},
		{"a capture warning alone is not loss", capture.Stats{Warnings: []string{"capture ended early: x"}}, []string{}, nil},
		{"undecodable frames", capture.Stats{Packets: 26, Undecodable: 26,
			Warnings: []string{"link type ARCNET_LINUX (129) is not supported: 26 frames skipped"}},
			[]string{"26 frames could not be decoded"},
			[]string{"capture loss seen (26 frames could not be decoded): traffic may have gone unseen, so never-seen verdicts may be wrong"}},
		{"truncated file", capture.Stats{Packets: 44, ReadErrors: []string{truncated}, Warnings: []string{truncated}},
			[]string{"1 input file not read to its end (truncated or damaged)"},
			[]string{"capture loss seen (1 input file not read to its end (truncated or damaged)): traffic may have gone unseen, so never-seen verdicts may be wrong" + cut,
				truncated}},
		{"interrupted replay", capture.Stats{Packets: 5, Interrupted: true,
			Warnings: []string{"interrupted after 5 packets: the input was not read to its end"}},
			[]string{"the replay was interrupted before the end of its input"},
			[]string{"capture loss seen (the replay was interrupted before the end of its input): traffic may have gone unseen, so never-seen verdicts may be wrong" + cut}},
	}
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &capture.Result{Flows: []flow.Flow{fl(tcp, gw4+":40000", "203.0.113.5:25", flow.Established)}, Stats: tt.st}
			rep, err := Audit(res, Options{Products: []*catalog.Product{p}, Hosts: []netip.Addr{netip.MustParseAddr(gw4)}})
			if err != nil {
				t.Fatal(err)
			}
			c := rep.Capture
			if c.StoppedEarly != (tt.st.Interrupted || len(tt.st.ReadErrors) > 0) {
				t.Errorf("stopped early %v for %+v", c.StoppedEarly, tt.st)
			}
			if c.LossSeen != (len(tt.loss) > 0) || !slices.Equal(c.Loss, tt.loss) || c.Interrupted != tt.st.Interrupted {
				t.Errorf("loss seen %v, loss %q, interrupted %v; want %q", c.LossSeen, c.Loss, c.Interrupted, tt.loss)
			}
			for _, w := range tt.warnings {
				if !slices.Contains(rep.Warnings, w) {
					t.Errorf("warning %q missing from %q", w, rep.Warnings)
				}
			}
			if len(tt.loss) == 0 && hasWarning(rep, "loss") {
				t.Errorf("loss warning without loss: %q", rep.Warnings)
			}
		})
	}
}

// TestEmptyCapture: a capture with no packet has no start or end, and the
// inference warning says there was nothing to infer from.
func TestEmptyCapture(t *testing.T) {
	p := product("p", req("smtp-out", catalog.Out, catalog.TCP, port(25)))
	for _, hosts := range []string{"", gw4} {
		opts := Options{Products: []*catalog.Product{p}, Site: &catalog.Site{}}
		if hosts != "" {
			opts.Hosts = []netip.Addr{netip.MustParseAddr(hosts)}
		}
		rep, err := Audit(&capture.Result{Stats: capture.Stats{Backend: "file", Files: []string{"empty.pcap"}}}, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		capJSON := string(b[strings.Index(string(b), `"capture":`):])
		for _, bad := range []string{`"start"`, `"end"`, "0001-01-01", "()"} {
			if strings.Contains(capJSON, bad) {
				t.Errorf("hosts %q: report has %s: %s", hosts, bad, capJSON)
			}
		}
		const noTraffic = "there was no traffic to infer gateway addresses from: give --host or a site file"
		if got := slices.Contains(rep.Warnings, noTraffic); got != (hosts == "") {
			t.Errorf("hosts %q: warnings %q", hosts, rep.Warnings)
		}
		if !hasWarning(rep, "the capture holds no flows") {
			t.Errorf("hosts %q: warnings %q", hosts, rep.Warnings)
		}
	}
	// Flows, but none with an address that can be the gateway's.
	rep := audit(t, []flow.Flow{fl(tcp, "[fe80::1]:40000", "[fe80::2]:25", flow.Established)},
		Options{Products: []*catalog.Product{p}, Site: &catalog.Site{}})
	if len(rep.Hosts.Addrs) != 0 || !hasWarning(rep, "no gateway address could be inferred from the traffic (no flow has a unicast") ||
		hasWarning(rep, "()") {
		t.Errorf("hosts %v warnings %q", rep.Hosts.Addrs, rep.Warnings)
	}
}
