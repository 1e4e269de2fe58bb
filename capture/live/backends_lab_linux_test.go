//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package live

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/ebpf"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// labGroup is what the truth file says about a set of flows: protocol,
// originator, responder and server port.
type labGroup struct {
	proto      string
	orig, resp netip.Addr
	port       uint16
}

func protoName(p uint8) string {
	switch p {
	case flow.ProtoTCP:
		return "tcp"
	case flow.ProtoUDP:
		return "udp"
	case flow.ProtoICMP, flow.ProtoICMPv6:
		return "icmp"
	}
	return fmt.Sprint(p)
}

// outcomeText is an outcome as the truth writes it ("unreachable:REASON").
func outcomeText(f *flow.Flow) string {
	if f.Outcome == flow.Unreachable && f.ICMP != nil {
		return "unreachable:" + f.ICMP.Reason
	}
	return string(f.Outcome)
}

// groupOutcomes collects, per truth group, the outcomes of the captured
// flows; flows outside the truth's groups are ignored.
func groupOutcomes(flows []flow.Flow, want map[labGroup][]string) map[labGroup][]string {
	got := map[labGroup][]string{}
	for i := range flows {
		f := &flows[i]
		port := f.Resp.Port()
		if protoName(f.Proto) == "icmp" {
			port = 0
		}
		g := labGroup{protoName(f.Proto), f.Orig.Addr(), f.Resp.Addr(), port}
		if _, ok := want[g]; ok {
			got[g] = append(got[g], outcomeText(f))
		}
	}
	for g := range got {
		sort.Strings(got[g])
	}
	return got
}

// TestPrivilegedLabScenarios runs the lab's scenarios with the eBPF backend
// and the AF_PACKET backend attached to the gateway's interface at the
// same time, and requires from both the outcomes of the scenario's truth
// file, and the same flows from each other. Outbound TCP and UDP flows
// must name the gateway process that opened them.
func TestPrivilegedLabScenarios(t *testing.T) {
	for _, name := range labScenarios() {
		t.Run(name, func(t *testing.T) {
			l := labtest.Up(t)
			script, err := labtest.Script()
			if err != nil {
				t.Fatal(err)
			}
			truthFile := filepath.Join(t.TempDir(), name+".truth.yaml")
			if out, err := exec.Command("bash", script, "truth", name, truthFile).CombinedOutput(); err != nil {
				t.Fatalf("lab.sh truth: %v: %s", err, out)
			}
			tr, err := labtest.LoadTruth(truthFile)
			if err != nil {
				t.Fatal(err)
			}

			var eb, af *labtest.Live
			var ebErr, afErr error
			labtest.InNetns(t, l.NS(labtest.Gateway), func() {
				opts := capture.LiveOptions{Iface: l.GatewayIface()}
				var ebSrc, afSrc *Source
				if ebSrc, ebErr = Open("ebpf", opts); ebErr == nil {
					eb = labtest.RunLive(ebSrc)
				}
				if afSrc, afErr = Open("afpacket", opts); afErr == nil {
					af = labtest.RunLive(afSrc)
				}
			})
			if ebErr != nil || afErr != nil {
				t.Fatalf("start: ebpf %v, afpacket %v", ebErr, afErr)
			}
			if err := l.Scenario(name); err != nil {
				t.Fatalf("scenario: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
			ebRes, err := eb.Stop()
			if err != nil {
				t.Fatalf("ebpf stop: %v", err)
			}
			afRes, err := af.Stop()
			if err != nil {
				t.Fatalf("afpacket stop: %v", err)
			}
			t.Logf("ebpf: %d packets, %d flows, attribution %q; afpacket: %d packets, %d flows",
				ebRes.Stats.Packets, len(ebRes.Flows), ebRes.Stats.Attribution, afRes.Stats.Packets, len(afRes.Flows))

			want := map[labGroup][]string{}
			for i := range tr.Flows {
				tf := &tr.Flows[i]
				g := labGroup{tf.Protocol, tf.Orig(), tf.Resp(), tf.Port}
				if _, ok := want[g]; !ok {
					want[g] = nil
				}
				if tf.Captured {
					o := tf.Outcome
					if o == "unreachable" {
						o += ":" + tf.Reason
					}
					want[g] = append(want[g], o)
				}
			}
			for g := range want {
				sort.Strings(want[g])
			}
			ebGot := groupOutcomes(ebRes.Flows, want)
			afGot := groupOutcomes(afRes.Flows, want)
			for g, w := range want {
				if !slices.Equal(ebGot[g], w) {
					t.Errorf("ebpf %s %s -> %s port %d: truth %v, got %v", g.proto, g.orig, g.resp, g.port, w, ebGot[g])
				}
				if !slices.Equal(ebGot[g], afGot[g]) {
					t.Errorf("parity %s %s -> %s port %d: ebpf %v, afpacket %v", g.proto, g.orig, g.resp, g.port, ebGot[g], afGot[g])
				}
			}
			// Every flow, not only the truth's: same endpoints, counts and
			// verdicts from both backends. Open (whether the flow was still
			// going when the capture stopped) is left out: the Table decides
			// it from its per-packet close state and lazy expiry queues,
			// which aggregated flags only approximate.
			index := func(fs []flow.Flow) map[string]labtest.Verdict {
				m := map[string]labtest.Verdict{}
				for _, f := range fs {
					if f.Resp.Addr().IsMulticast() || f.Orig.Addr().IsLinkLocalUnicast() {
						// Neighbour discovery and MLD come at random times,
						// possibly while only one backend was attached.
						continue
					}
					v := labtest.VerdictOf(f)
					v.Open = false
					m[fmt.Sprint(v.Proto, " ", v.Orig, " ", v.Resp)] = v
				}
				return m
			}
			ebAll, afAll := index(ebRes.Flows), index(afRes.Flows)
			for k, v := range afAll {
				if ebAll[k] != v {
					t.Errorf("flow %s:\nafpacket %+v\nebpf     %+v", k, v, ebAll[k])
				}
			}
			for k, v := range ebAll {
				if _, ok := afAll[k]; !ok {
					t.Errorf("flow %s only in ebpf: %+v", k, v)
				}
			}
			// Identical flows give identical audits; the capture command's
			// lab test (cmd/flowaudit) checks the reports of both backends.
			if ebRes.Stats.Attribution != ebpf.AttributionOK {
				t.Errorf("attribution %q", ebRes.Stats.Attribution)
			}
			for i := range ebRes.Flows {
				f := &ebRes.Flows[i]
				if f.Proto != flow.ProtoTCP && f.Proto != flow.ProtoUDP {
					continue
				}
				for j := range tr.Flows {
					tf := &tr.Flows[j]
					if tf.Direction == "out" && tf.Captured && protoName(f.Proto) == tf.Protocol &&
						f.Orig.Addr() == tf.Orig() && f.Resp.Addr() == tf.Resp() && f.Resp.Port() == tf.Port && f.Process == nil {
						t.Errorf("outbound %s %s -> %s has no process", tf.Protocol, f.Orig, f.Resp)
						break
					}
				}
			}
		})
	}
}

// labScenarios lists the scenarios TestPrivilegedLabScenarios runs:
// FLOWAUDIT_LAB_SCENARIOS (comma-separated) or the three bundled ones.
func labScenarios() []string {
	if s := os.Getenv("FLOWAUDIT_LAB_SCENARIOS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{"example", "mailcleaner", "spamexperts"}
}
