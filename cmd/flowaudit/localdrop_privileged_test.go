package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// The Razor server and the SSH client of the local drop lab, in the lab's
// internet namespace (routed there by the firewall namespace).
const (
	razorServer = "198.51.100.7"
	sshClient   = "203.0.113.10"
)

// gatewayRules are the gateway's own nftables drops (issue 13);
// upstreamRules the same drops in the firewall namespace's forward chain.
const (
	gatewayRules = `table inet fw {
	chain out { type filter hook output priority 0; tcp dport 2703 drop; }
	chain in { type filter hook input priority 0; tcp dport 22 drop; }
}
`
	upstreamRules = "add rule inet falab forward tcp dport { 2703, 22 } drop\n"
)

// TestPrivilegedLocalDropLab runs `flowaudit capture` on both backends in
// the lab's gateway namespace while a Razor-like client connects to TCP
// 2703 and the internet tries SSH to the gateway. With the drops in the
// gateway's own nftables, out-tcp-2703-razor is blocked with local-drop,
// the client's process and the rule named by table, chain and handle,
// and in-tcp-22-ssh is local-drop too; with the same drops upstream, no
// verdict says local-drop (the probe keeps only the gateway's namespace).
// The eBPF backend on any too: the probe filters on the namespace, not on
// an interface.
func TestPrivilegedLocalDropLab(t *testing.T) {
	for _, run := range []struct{ backend, iface string }{{"afpacket", ""}, {"ebpf", ""}, {"ebpf", "any"}} {
		backend, name := run.backend, run.backend
		if run.iface != "" {
			name += "-" + run.iface
		}
		for _, where := range []string{"gateway", "upstream"} {
			t.Run(name+"/"+where, func(t *testing.T) {
				t.Parallel()
				l := labtest.Up(t)
				if where == "gateway" {
					nft(t, l, labtest.Gateway, gatewayRules)
				} else {
					nft(t, l, "fw", upstreamRules)
				}
				labExec(t, l, "inet", "ip", "addr", "add", razorServer+"/32", "dev", "inet0")
				labExec(t, l, "inet", "ip", "addr", "add", sshClient+"/32", "dev", "inet0")
				out := filepath.Join(t.TempDir(), "report.json")
				iface := run.iface
				if iface == "" {
					iface = l.GatewayIface()
				}
				c := startCapture(t, l, "capture", "--iface", iface, "--backend", backend,
					"--product", "mailcleaner", "--format", "json", "--output", out)
				// Both attempts fail; their socat exits non-zero.
				razor := l.Command(labtest.Gateway, "socat", "-u", "OPEN:/dev/null", "TCP:"+razorServer+":2703,connect-timeout=3")
				ssh := l.Command("inet", "socat", "-u", "OPEN:/dev/null", "TCP:192.0.2.10:22,bind="+sshClient+",connect-timeout=3")
				for _, cmd := range []*exec.Cmd{razor, ssh} {
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
				}
				_, _ = razor.Wait(), ssh.Wait()
				time.Sleep(500 * time.Millisecond)
				if code := c.stop(t, syscall.SIGINT); code != 1 {
					t.Fatalf("exit status %d, want 1: %s", code, c.stderr.String())
				}
				rep := readReport(t, out)
				if where == "gateway" {
					checkLocalDrops(t, l, rep)
				} else {
					checkNoLocalDrop(t, rep)
				}
			})
		}
	}
}

func labExec(t *testing.T, l *labtest.Lab, role string, args ...string) {
	t.Helper()
	if out, err := l.Command(role, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// nft loads rules into a lab namespace's nftables.
func nft(t *testing.T, l *labtest.Lab, role, rules string) {
	t.Helper()
	cmd := l.Command(role, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f in %s: %v: %s", role, err, out)
	}
}

func readReport(t *testing.T, path string) *analyze.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep analyze.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func requirement(t *testing.T, rep *analyze.Report, id string) *analyze.Requirement {
	t.Helper()
	for i := range rep.Requirements {
		if rep.Requirements[i].ID == id {
			return &rep.Requirements[i]
		}
	}
	t.Fatalf("no requirement %s", id)
	return nil
}

// ruleHandle is the handle nft gives the gateway's rule matching dport.
func ruleHandle(t *testing.T, l *labtest.Lab, chain, match string) string {
	t.Helper()
	out, err := l.Command(labtest.Gateway, "nft", "-a", "list", "chain", "inet", "fw", chain).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	m := regexp.MustCompile(regexp.QuoteMeta(match) + ` drop # handle (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no handle for %q in:\n%s", match, out)
	}
	return string(m[1])
}

func checkLocalDrops(t *testing.T, l *labtest.Lab, rep *analyze.Report) {
	t.Helper()
	razor := requirement(t, rep, "mailcleaner/out-tcp-2703-razor")
	rule := "table inet fw chain out handle " + ruleHandle(t, l, "out", "tcp dport 2703") + " (drop)"
	if razor.Status != analyze.Blocked || razor.Reason != analyze.ReasonLocalDrop ||
		razor.ReasonText != "dropped by this gateway's firewall (output)" {
		t.Errorf("razor: %s %s %q, want blocked local-drop (output)", razor.Status, razor.Reason, razor.ReasonText)
	}
	if len(razor.Reasons) == 0 || !slices.Contains(razor.Reasons[0].Detail, rule) {
		t.Errorf("razor reasons %+v, want the rule %q", razor.Reasons, rule)
	}
	if !slices.ContainsFunc(razor.Processes, func(p analyze.ProcessSeen) bool { return p.Comm == "socat" }) {
		t.Errorf("razor processes %+v, want socat", razor.Processes)
	}
	if razor.Counts.NotSent == 0 || razor.Counts.Established != 0 {
		t.Errorf("razor counts %+v", razor.Counts)
	}
	ssh := requirement(t, rep, "mailcleaner/in-tcp-22-ssh")
	if ssh.Status != analyze.Blocked || ssh.Reason != analyze.ReasonLocalDrop ||
		ssh.ReasonText != "dropped by this gateway's firewall (input)" {
		t.Errorf("ssh: %s %s %q, want blocked local-drop (input)", ssh.Status, ssh.Reason, ssh.ReasonText)
	}
	sshRule := "table inet fw chain in handle " + ruleHandle(t, l, "in", "tcp dport 22") + " (drop)"
	if len(ssh.Reasons) == 0 || !slices.Contains(ssh.Reasons[0].Detail, sshRule) {
		t.Errorf("ssh reasons %+v, want the rule %q", ssh.Reasons, sshRule)
	}
	if rep.Capture.LocalDrops == nil || rep.Capture.LocalDrops.ByReason["netfilter-drop"] == 0 {
		t.Errorf("capture local drops %v, want netfilter-drop counted", rep.Capture.LocalDrops)
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "local drops") {
			t.Errorf("warning %q", w)
		}
	}
}

func checkNoLocalDrop(t *testing.T, rep *analyze.Report) {
	t.Helper()
	for _, r := range rep.Requirements {
		for _, rc := range r.Reasons {
			if rc.Reason.Local() {
				t.Errorf("%s: %s %+v with the drops upstream", r.ID, r.Status, rc)
			}
		}
	}
	for _, u := range rep.Unexpected {
		for _, rc := range u.Reasons {
			if rc.Reason.Local() {
				t.Errorf("unexpected %s %s/%d: %+v", u.Direction, u.Protocol, u.Port, rc)
			}
		}
	}
	if r := requirement(t, rep, "mailcleaner/out-tcp-2703-razor"); r.Status != analyze.Blocked || r.Reason != analyze.ReasonUnanswered {
		t.Errorf("razor upstream: %s %s, want blocked unanswered", r.Status, r.Reason)
	}
	if r := requirement(t, rep, "mailcleaner/in-tcp-22-ssh"); r.Status != analyze.NeverSeen {
		t.Errorf("ssh upstream: %s %s, want never-seen (dropped before the gateway)", r.Status, r.Reason)
	}
	if rep.Capture.LocalDrops == nil {
		t.Fatal("no local drop counts: the probe did not run")
	}
	if rep.Capture.LocalDrops.ByReason["netfilter-drop"] != 0 {
		t.Errorf("the gateway counted netfilter drops it did not make: %v", rep.Capture.LocalDrops)
	}
}

// TestPrivilegedLocalDropUnavailable runs `flowaudit capture` (AF_PACKET)
// in the gateway namespace in a process without CAP_BPF, CAP_PERFMON and
// CAP_SYS_ADMIN (setpriv): the drop probe cannot load, the capture still
// works, and the report says once why local drops are not visible.
func TestPrivilegedLocalDropUnavailable(t *testing.T) {
	labtest.RequireRoot(t, "network namespaces and a packet socket")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("need setpriv (util-linux): %v", err)
	}
	l := labtest.Up(t)
	nft(t, l, labtest.Gateway, gatewayRules)
	labExec(t, l, "inet", "ip", "addr", "add", razorServer+"/32", "dev", "inet0")
	labExec(t, l, "inet", "ip", "addr", "add", sshClient+"/32", "dev", "inet0")
	out := filepath.Join(t.TempDir(), "report.json")
	c := &liveCapture{cmd: l.Command(labtest.Gateway, "setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-perfmon,-sys_admin",
		flowauditBinary(t), "capture", "--iface", l.GatewayIface(), "--backend", "afpacket",
		"--product", "mailcleaner", "--format", "json", "--output", out), stderr: &syncBuffer{}}
	c.cmd.Stdout, c.cmd.Stderr = c.stderr, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.stderr.String(), "capturing on"); {
		if time.Now().After(deadline) {
			t.Fatalf("capture did not start: %s", c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = l.Command(labtest.Gateway, "socat", "-u", "OPEN:/dev/null", "TCP:"+razorServer+":25,connect-timeout=3").Run()
	_ = l.Command("inet", "socat", "-u", "OPEN:/dev/null", "TCP:192.0.2.10:22,bind="+sshClient+",connect-timeout=2").Run()
	time.Sleep(300 * time.Millisecond)
	if code := c.stop(t, syscall.SIGINT); code != 1 {
		t.Fatalf("exit status %d: %s", code, c.stderr.String())
	}
	rep := readReport(t, out)
	if rep.Capture.Packets == 0 || rep.Capture.LocalDrops != nil {
		t.Errorf("capture %+v, want packets and no local drop counts", rep.Capture)
	}
	var why []string
	for _, w := range rep.Capture.Warnings {
		if strings.Contains(w, "local drops") {
			why = append(why, w)
		}
	}
	if len(why) != 1 || !strings.HasPrefix(why[0], "local drops not visible: needs root (or CAP_BPF and CAP_PERFMON)") {
		t.Errorf("capture warnings %q, want one saying local drops are not visible and why", rep.Capture.Warnings)
	}
	// Without the probe the gateway's own input drop reads as the wire
	// shows it: the report cannot know better, and its warning says so.
	if r := requirement(t, rep, "mailcleaner/in-tcp-22-ssh"); r.Reason == analyze.ReasonLocalDrop {
		t.Errorf("ssh %s %s without a probe", r.Status, r.Reason)
	}
	if r := requirement(t, rep, "mailcleaner/out-tcp-25-smtp"); r.Counts.Attempts == 0 {
		t.Errorf("smtp %s: the capture saw nothing", r.Status)
	}
}
