package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/internal/labtest"
)

// twoIfaceLab is a gateway with two interfaces whose replies return by
// the other one: mail arrives for 192.0.2.10 on gw0 (from the router's
// 192.0.2.1), while the gateway's default route leaves by gw1 (router
// 203.0.113.1). A client at 198.51.100.7, behind the router, connects to
// the gateway's SMTP port (answered) and HTTP port (nothing listens: the
// gateway resets). Namespaces: fa2g-ID (gateway), fa2r-ID (router),
// fa2c-ID (client).
type twoIfaceLab struct {
	gw, rt, cl string
}

func upTwoIfaceLab(t *testing.T) *twoIfaceLab {
	t.Helper()
	labtest.Require(t)
	id := labtest.NewID()
	l := &twoIfaceLab{gw: "fa2g-" + id, rt: "fa2r-" + id, cl: "fa2c-" + id}
	t.Cleanup(func() {
		for _, ns := range []string{l.gw, l.rt, l.cl} {
			// The test's own processes left in the namespace (socat's
			// forked children), by pid.
			pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
			for _, p := range strings.Fields(string(pids)) {
				if pid, err := strconv.Atoi(p); err == nil {
					if pr, err := os.FindProcess(pid); err == nil {
						pr.Kill()
					}
				}
			}
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	steps := [][]string{
		{"netns", "add", l.gw}, {"netns", "add", l.rt}, {"netns", "add", l.cl},
		{"link", "add", "gw0", "netns", l.gw, "type", "veth", "peer", "rt0", "netns", l.rt},
		{"link", "add", "gw1", "netns", l.gw, "type", "veth", "peer", "rt1", "netns", l.rt},
		{"link", "add", "cl0", "netns", l.cl, "type", "veth", "peer", "rt2", "netns", l.rt},
		{"-n", l.gw, "addr", "add", "192.0.2.10/24", "dev", "gw0"},
		{"-n", l.gw, "addr", "add", "203.0.113.2/24", "dev", "gw1"},
		{"-n", l.rt, "addr", "add", "192.0.2.1/24", "dev", "rt0"},
		{"-n", l.rt, "addr", "add", "203.0.113.1/24", "dev", "rt1"},
		{"-n", l.rt, "addr", "add", "198.51.100.1/24", "dev", "rt2"},
		{"-n", l.cl, "addr", "add", "198.51.100.7/24", "dev", "cl0"},
	}
	for _, ns := range []string{l.gw, l.rt, l.cl} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	for _, d := range [][2]string{{l.gw, "gw0"}, {l.gw, "gw1"}, {l.rt, "rt0"}, {l.rt, "rt1"}, {l.rt, "rt2"}, {l.cl, "cl0"}} {
		steps = append(steps, []string{"-n", d[0], "link", "set", d[1], "up"})
	}
	steps = append(steps,
		[]string{"-n", l.gw, "route", "add", "default", "via", "203.0.113.1", "dev", "gw1"},
		[]string{"-n", l.cl, "route", "add", "default", "via", "198.51.100.1"})
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	// The router forwards; the gateway accepts a packet on gw0 whose
	// reply route is gw1 (strict reverse-path filtering would drop it).
	for _, sc := range [][2]string{{l.rt, "net.ipv4.ip_forward=1"}, {l.gw, "net.ipv4.conf.all.rp_filter=0"},
		{l.gw, "net.ipv4.conf.default.rp_filter=0"}, {l.gw, "net.ipv4.conf.gw0.rp_filter=0"}} {
		if out, err := exec.Command("ip", "netns", "exec", sc[0], "sysctl", "-qw", sc[1]).CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s: %v: %s", sc[1], err, out)
		}
	}
	return l
}

// traffic: six SMTP exchanges with the gateway (enough established flows
// for the coverage check, analyze.MinOneSidedFlows) and a refused HTTP
// connection, from the client.
func (l *twoIfaceLab) traffic(t *testing.T) {
	t.Helper()
	srv := exec.Command("ip", "netns", "exec", l.gw, "socat", "-T2", "TCP-LISTEN:25,reuseaddr,fork", "SYSTEM:echo 220 mx")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	time.Sleep(200 * time.Millisecond)
	for range 6 {
		out, err := exec.Command("ip", "netns", "exec", l.cl, "socat", "-T2", "-", "TCP:192.0.2.10:25").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "220 mx") {
			t.Fatalf("smtp through the two-interface gateway: %v: %s", err, out)
		}
	}
	// Refused: the gateway answers RST (by gw1).
	exec.Command("ip", "netns", "exec", l.cl, "socat", "-T1", "-", "TCP:192.0.2.10:80").Run()
	time.Sleep(300 * time.Millisecond)
}

// capture runs `flowaudit capture` in the gateway namespace on iface with
// backend while the traffic runs, and returns its stderr and JSON report.
func (l *twoIfaceLab) capture(t *testing.T, iface, backend string) (string, liveReport) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command("ip", "netns", "exec", l.gw, flowauditBinary(t), "capture", "--iface", iface, "--backend", backend,
		"--product", "mailcleaner", "--format", "json", "--output", out)
	stderr := &syncBuffer{}
	cmd.Stderr, cmd.Stdout = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &liveCapture{cmd: cmd, stderr: stderr}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "capturing on") {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			c.stop(t, syscall.SIGKILL)
			t.Fatalf("capture on %s (%s) did not start: %s", iface, backend, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.traffic(t)
	c.stop(t, syscall.SIGINT)
	var rep liveReport
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("report: %v: %s", err, stderr.String())
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return stderr.String(), rep
}

func statusOf(rep liveReport, id string) string {
	for _, r := range rep.Requirements {
		if r.ID == "mailcleaner/"+id {
			return r.Status
		}
	}
	return ""
}

// TestPrivilegedTwoInterfaces: on a gateway whose replies leave by another
// interface, a capture on the receiving interface warns that routes leave
// elsewhere before capturing and that the capture lacks a side, and a
// capture on any judges as the truth does (SMTP ok, HTTP refused by the
// gateway), with either backend; auto picks eBPF on any too.
func TestPrivilegedTwoInterfaces(t *testing.T) {
	l := upTwoIfaceLab(t)
	for _, backend := range []string{"afpacket", "ebpf"} {
		stderr, rep := l.capture(t, "gw0", backend)
		if !strings.Contains(stderr, "routes leave by another interface than gw0 (the IPv4 default route via gw1)") ||
			!strings.Contains(stderr, "capture on any (--iface any), or on gw0 and gw1 and merge") {
			t.Errorf("%s on gw0: no route warning: %s", backend, stderr)
		}
		oneSided := false
		for _, w := range rep.Warnings {
			oneSided = oneSided || strings.Contains(w, "lacks what the gateway sent")
		}
		if !oneSided {
			t.Errorf("%s on gw0: no coverage warning in %q", backend, rep.Warnings)
		}
		if s := statusOf(rep, "in-tcp-25-smtp"); s == "never-seen" || s == "blocked" {
			t.Errorf("%s on gw0: in-tcp-25-smtp %s: a one-sided capture must not read as a failure", backend, s)
		}
	}
	for _, backend := range []string{"afpacket", "ebpf", "auto"} {
		stderr, rep := l.capture(t, "any", backend)
		if strings.Contains(stderr, "routes leave") {
			t.Errorf("%s on any: route warning: %s", backend, stderr)
		}
		want := backend
		if backend == "auto" {
			want = "ebpf"
		}
		if rep.Capture.Backend != want || rep.Capture.Iface != "any" {
			t.Errorf("%s on any: capture %+v", backend, rep.Capture)
		}
		for _, w := range rep.Warnings {
			if strings.Contains(w, "lacks what the gateway") {
				t.Errorf("%s on any: coverage warning %q", backend, w)
			}
		}
		if s := statusOf(rep, "in-tcp-25-smtp"); s != "ok" {
			t.Errorf("%s on any: in-tcp-25-smtp %s, want ok", backend, s)
		}
		if s := statusOf(rep, "in-tcp-80-web"); s != "blocked" {
			t.Errorf("%s on any: in-tcp-80-web %s, want blocked (refused by the gateway)", backend, s)
		}
	}
}
