package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/ebpf"
	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// truthReasons maps the lab's failure vocabulary (docs/lab.md) to the
// report's reasons.
var truthReasons = map[string]string{
	"unanswered":       "unanswered",
	"no-reply":         "no-reply",
	"rst-firewall":     "rejected",
	"rst-peer":         "rejected",
	"rst-gateway":      "refused-by-gateway",
	"admin-prohibited": "admin-prohibited",
	"port-unreachable": "port-unreachable",
}

// liveCapture is `flowaudit capture` running in a lab's gateway
// namespace.
type liveCapture struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCapture runs the binary with args in the gateway namespace and
// waits until the capture socket is open (the "capturing on" line).
func startCapture(t *testing.T, l *labtest.Lab, args ...string) *liveCapture {
	t.Helper()
	return startCaptureEnv(t, l, nil, args...)
}

// startCaptureEnv is startCapture with env ("K=V") added to the binary's
// environment.
func startCaptureEnv(t *testing.T, l *labtest.Lab, env []string, args ...string) *liveCapture {
	t.Helper()
	bin := flowauditBinary(t)
	c := &liveCapture{cmd: l.Command(labtest.Gateway, append([]string{bin}, args...)...), stderr: &syncBuffer{}}
	if env != nil {
		c.cmd.Env = append(os.Environ(), env...)
	}
	c.cmd.Stderr = c.stderr
	c.cmd.Stdout = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.stderr.String(), "capturing on") {
		if time.Now().After(deadline) {
			t.Fatalf("capture did not start: %s", c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// stop sends sigs and returns the exit status.
func (c *liveCapture) stop(t *testing.T, sigs ...os.Signal) int {
	t.Helper()
	return c.stopWithin(t, 15*time.Second, sigs...)
}

// stopWithin sends sigs and waits at most limit for the exit status.
func (c *liveCapture) stopWithin(t *testing.T, limit time.Duration, sigs ...os.Signal) int {
	t.Helper()
	for _, s := range sigs {
		if err := c.cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c.wait(t, limit)
}

func (c *liveCapture) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		c.cmd.Process.Kill()
		t.Fatalf("capture did not exit within %v: %s", limit, c.stderr.String())
	}
	return -1
}

// scenarioTruth writes and loads the truth of a lab scenario.
func scenarioTruth(t *testing.T, name string) *labtest.Truth {
	t.Helper()
	script, err := labtest.Script()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".truth.yaml")
	if out, err := exec.Command("bash", script, "truth", name, path).CombinedOutput(); err != nil {
		t.Fatalf("lab truth %s: %v: %s", name, err, out)
	}
	tr, err := labtest.LoadTruth(path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// liveReport is the part of the JSON report these tests read.
type liveReport struct {
	Hosts struct {
		Addrs []string `json:"addrs"`
		How   string   `json:"how"`
	} `json:"hosts"`
	Requirements []struct {
		ID        string      `json:"id"`
		Direction string      `json:"direction"`
		Protocol  string      `json:"protocol"`
		Ports     [][2]uint16 `json:"ports"`
		Status    string      `json:"status"`
		Reasons   []struct {
			Reason string `json:"reason"`
		} `json:"reasons"`
	} `json:"requirements"`
	Unexpected []struct {
		Direction string `json:"direction"`
		Protocol  string `json:"protocol"`
		Port      uint16 `json:"port"`
	} `json:"unexpected"`
	Capture struct {
		Backend     string `json:"backend"`
		Iface       string `json:"iface"`
		Packets     uint64 `json:"packets"`
		KernelDrops uint64 `json:"kernel_drops"`
		Attribution string `json:"attribution"`
	} `json:"capture"`
	Warnings []string `json:"warnings"`
}

// TestPrivilegedCaptureLab runs `flowaudit capture --iface gw0 --backend
// afpacket --product P --format json --output FILE` in the lab's gateway
// namespace while a scenario drives traffic through the firewall, stops
// it with SIGINT, and checks the report's verdicts and reasons and the
// session's flow outcomes against the scenario's truth.
//
// The eBPF backend runs the same scenarios and must reach the same verdicts.
func TestPrivilegedCaptureLab(t *testing.T) {
	for _, run := range []struct{ scen, backend string }{
		{"mailcleaner", "afpacket"}, {"spamexperts", "afpacket"},
		{"mailcleaner", "ebpf"}, {"spamexperts", "ebpf"},
	} {
		scen, backend := run.scen, run.backend
		t.Run(scen+"/"+backend, func(t *testing.T) {
			t.Parallel()
			l := labtest.Up(t)
			dir := t.TempDir()
			out, sess := filepath.Join(dir, "report.json"), filepath.Join(dir, "s.session.json")
			c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "--backend", backend,
				"--product", scen, "--format", "json", "--output", out, "--session", sess, "--node", "gw-"+scen)
			if err := l.Scenario(scen); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // late answers and retransmissions
			if code := c.stop(t, syscall.SIGINT); code != 1 {
				t.Fatalf("exit status %d, want 1 (the scenarios block some requirements): %s", code, c.stderr.String())
			}
			tr := scenarioTruth(t, scen)
			checkReport(t, out, tr, backend)
			checkSession(t, sess, tr, "gw-"+scen, backend)
		})
	}
}

func checkReport(t *testing.T, path string, tr *labtest.Truth, backend string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep liveReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if c := rep.Capture; c.Backend != backend || c.Iface != "gw0" || c.Packets == 0 || c.KernelDrops != 0 {
		t.Errorf("capture summary %+v", c)
	}
	if backend == "ebpf" && rep.Capture.Attribution != ebpf.AttributionOK {
		t.Errorf("ebpf process attribution %q, want %q", rep.Capture.Attribution, ebpf.AttributionOK)
	}
	if rep.Hosts.How != "interface gw0 addresses" {
		t.Errorf("hosts how %q", rep.Hosts.How)
	}
	for _, g := range tr.Gateway {
		if !slices.Contains(rep.Hosts.Addrs, g) {
			t.Errorf("gateway address %s not in the report's hosts %v", g, rep.Hosts.Addrs)
		}
	}
	for _, p := range tr.Ports {
		key := p.Direction + "/" + p.Protocol + "/" + strconv.Itoa(int(p.Port))
		if p.Expect == "unexpected" {
			found := false
			for _, u := range rep.Unexpected {
				found = found || (u.Direction == p.Direction && u.Protocol == p.Protocol && u.Port == p.Port)
			}
			if found != (p.Status != "never-seen") {
				t.Errorf("%s: listed as unexpected: %v, want %v", key, found, p.Status != "never-seen")
			}
			continue
		}
		var want []string
		for _, r := range strings.Split(p.Reasons, ",") {
			if r != "" && !slices.Contains(want, truthReasons[r]) {
				want = append(want, truthReasons[r])
			}
		}
		slices.Sort(want)
		var seen []string
		ok := false
		for _, r := range rep.Requirements {
			if r.Direction != p.Direction || r.Protocol != p.Protocol || r.Status == "not-applicable" || !inRanges(r.Ports, p.Port) {
				continue
			}
			var got []string
			for _, rc := range r.Reasons {
				got = append(got, rc.Reason)
			}
			slices.Sort(got)
			seen = append(seen, r.ID+"="+r.Status+"("+strings.Join(got, ",")+")")
			ok = ok || (r.Status == p.Status && slices.Equal(got, want))
		}
		if !ok {
			t.Errorf("%s: want a requirement %s (%s), report has %v", key, p.Status, strings.Join(want, ","), seen)
		}
	}
}

func checkSession(t *testing.T, path string, tr *labtest.Truth, node, backend string) {
	t.Helper()
	s, err := session.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != node || s.Iface != "gw0" || s.Backend != backend || s.Hosts.Origin != capture.OriginInterface || s.Hosts.Iface != "gw0" ||
		s.Stats.KernelDrops != 0 || !s.End.After(s.Start) || s.ToolVersion == "" {
		t.Errorf("session header: node %q iface %q backend %q hosts %+v drops %d span %v-%v",
			s.Node, s.Iface, s.Backend, s.Hosts, s.Stats.KernelDrops, s.Start, s.End)
	}
	protos := map[string]uint8{"tcp": 6, "udp": 17}
	for _, tf := range tr.Flows {
		proto, ok := protos[tf.Protocol]
		if !ok || !tf.Captured {
			continue
		}
		gw, peer := netip.MustParseAddr(tf.Gateway), netip.MustParseAddr(tf.Peer)
		orig, resp := gw, peer
		if tf.Direction == "in" {
			orig, resp = peer, gw
		}
		n := 0
		for _, f := range s.Flows {
			if f.Proto != proto || f.Orig.Addr() != orig || f.Resp.Addr() != resp || f.Resp.Port() != tf.Port {
				continue
			}
			n++
			if string(f.Outcome) != tf.Outcome {
				t.Errorf("row %s (%s): session outcome %s, want %s", tf.Row, tf.Label, f.Outcome, tf.Outcome)
			}
			if tf.Reason == "admin-prohibited" && (f.ICMP == nil || f.ICMP.Reason != "admin-prohibited") {
				t.Errorf("row %s (%s): ICMP %+v, want admin-prohibited", tf.Row, tf.Label, f.ICMP)
			}
			// A name that travelled only in SNI or Host is the flow's
			// server name, kept apart from the responder's DNS names.
			if tf.Name != "" && !slices.Contains(f.RespNames, tf.Name) && f.ServerName != tf.Name {
				t.Errorf("row %s (%s): resp names %v, server name %q, want %s", tf.Row, tf.Label, f.RespNames, f.ServerName, tf.Name)
			}
		}
		if n == 0 {
			t.Errorf("row %s (%s): no %s flow %v -> %v:%d in the session", tf.Row, tf.Label, tf.Protocol, orig, resp, tf.Port)
		}
	}
}

// inRanges reports whether p is in rs; ICMP requirements have no ports.
func inRanges(rs [][2]uint16, p uint16) bool {
	if len(rs) == 0 {
		return true
	}
	for _, r := range rs {
		if p >= r[0] && p <= r[1] {
			return true
		}
	}
	return false
}

// TestPrivilegedCaptureSecondSignal: a second SIGINT aborts at once with
// status 130 and leaves no report, session or pcapng under their names.
func TestPrivilegedCaptureSecondSignal(t *testing.T) {
	l := labtest.Up(t)
	dir := t.TempDir()
	out, sess, pcap := filepath.Join(dir, "r.json"), filepath.Join(dir, "s.json"), filepath.Join(dir, "p.pcapng")
	c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "--backend", "afpacket", "-p", "mailcleaner",
		"-o", out, "--session", sess, "--write-pcap", pcap)
	if err := l.Exec(labtest.Gateway, "ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if code := c.stop(t, syscall.SIGINT, syscall.SIGINT); code != 130 {
		t.Fatalf("exit status %d, want 130: %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "aborting without writing") {
		t.Errorf("stderr does not say it aborted: %s", c.stderr.String())
	}
	for _, p := range []string{out, sess, pcap} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after an abort (%v)", p, err)
		}
	}
}

// TestPrivilegedCaptureDuration: --duration stops the capture by itself;
// the report, the session and the pcapng file (replayable to the same
// verdicts) are written; --fail-on none makes the exit status 0.
func TestPrivilegedCaptureDuration(t *testing.T) {
	l := labtest.Up(t)
	dir := t.TempDir()
	out, sess, pcap := filepath.Join(dir, "r.json"), filepath.Join(dir, "s.json"), filepath.Join(dir, "p.pcapng")
	c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "-p", "mailcleaner", "--duration", "3s",
		"--fail-on", "none", "-o", out, "--session", sess, "--write-pcap", pcap, "--filter", "icmp")
	// The duration counts from the backend's start, which "capturing on"
	// follows: timed from there, a loaded machine's slow start does not count.
	start := time.Now()
	// Ping the firewall (ICMP passes the filter) and send a DNS query
	// (filtered out) while it runs.
	if err := l.Exec(labtest.Gateway, "ping", "-c", "3", "-i", "0.2", "-W", "1", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	l.Exec(labtest.Gateway, "dig", "+time=1", "+tries=1", "@198.51.100.53", "resolver.lab.test")
	if code := c.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0: %s", code, c.stderr.String())
	}
	if el := time.Since(start); el < 2500*time.Millisecond || el > 8*time.Second {
		t.Errorf("capture ran %v for --duration 3s", el)
	}
	s, err := session.Load(sess)
	if err != nil {
		t.Fatal(err)
	}
	icmp := 0
	for _, f := range s.Flows {
		if f.Proto != 1 {
			t.Errorf("flow %v -> %v proto %d passed the icmp filter", f.Orig, f.Resp, f.Proto)
		}
		icmp++
	}
	if icmp == 0 {
		t.Error("no ICMP flow captured")
	}
	// The pcapng file replays to the same flows.
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"flows", "-f", "json", pcap}, &stdout, &stderr); err != nil {
		t.Fatalf("flows %s: %v %s", pcap, err, stderr.String())
	}
	var replayed flowsJSON
	if err := json.Unmarshal(stdout.Bytes(), &replayed); err != nil {
		t.Fatal(err)
	}
	if len(replayed.Flows) != len(s.Flows) || replayed.Stats.Packets != s.Stats.Packets {
		t.Errorf("pcapng replays to %d flows / %d packets, the session has %d / %d",
			len(replayed.Flows), replayed.Stats.Packets, len(s.Flows), s.Stats.Packets)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

// TestPrivilegedCaptureSIGTERM: SIGTERM stops the capture like SIGINT:
// report and session written, exit status from the report.
func TestPrivilegedCaptureSIGTERM(t *testing.T) {
	l := labtest.Up(t)
	dir := t.TempDir()
	out, sess := filepath.Join(dir, "r.json"), filepath.Join(dir, "s.json")
	c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "--backend", "afpacket", "-p", "mailcleaner",
		"--format", "json", "-o", out, "--session", sess, "--fail-on", "unexpected")
	// The gateway pings the firewall: ICMP that mailcleaner's list does
	// not have, so the report has an unexpected group and exit status 1.
	if err := l.Exec(labtest.Gateway, "ping", "-c", "2", "-i", "0.2", "-W", "1", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if code := c.stop(t, syscall.SIGTERM); code != 1 {
		t.Fatalf("exit status %d, want 1: %s", code, c.stderr.String())
	}
	var rep liveReport
	data, err := os.ReadFile(out)
	if err == nil {
		err = json.Unmarshal(data, &rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range rep.Unexpected {
		found = found || u.Protocol == "icmp"
	}
	if !found {
		t.Errorf("ping not listed as unexpected: %+v", rep.Unexpected)
	}
	if _, err := session.Load(sess); err != nil {
		t.Error(err)
	}
}
