//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/live/nftrules"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// dropLab is a "gateway" namespace joined by a veth pair (gw0) to a
// "peer" namespace that holds the addresses the gateway talks to
// (198.51.100.7, 2001:db8:7::7), with the gateway's own nftables rules:
// output drops TCP 2703, rejects UDP 6277, drops UDP 7000-7999 and ICMP
// echo requests; input drops TCP 22.
type dropLab struct {
	gw, peer       string // namespace names
	gwAddr, peerIP string // IPv4 addresses on the veth link
}

const (
	razorV4 = "198.51.100.7"
	razorV6 = "2001:db8:7::7"
)

const dropRules = `table inet fw {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 2703 drop
		udp dport 6277 reject
		icmp type echo-request drop
		udp dport 7000-7999 drop
	}
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport 22 drop
	}
}`

// dropLabSeq numbers drop labs, for unique namespace names.
var dropLabSeq atomic.Int64

// newDropLab builds one; host is the last byte of the gateway's and
// peer's link addresses (203.0.113.<host> and .<host+1>), so that two
// labs can be told apart by address.
func newDropLab(t *testing.T, host int) *dropLab {
	t.Helper()
	id := fmt.Sprintf("fa-drop-%d-%d", os.Getpid(), dropLabSeq.Add(1))
	l := &dropLab{gw: id + "-gw", peer: id + "-peer", gwAddr: fmt.Sprintf("203.0.113.%d", host),
		peerIP: fmt.Sprintf("203.0.113.%d", host+1)}
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", l.gw).Run()
		_ = exec.Command("ip", "netns", "del", l.peer).Run()
	})
	run("", "ip", "netns", "add", l.gw)
	run("", "ip", "netns", "add", l.peer)
	run("", "ip", "-n", l.gw, "link", "add", "gw0", "type", "veth", "peer", "name", "peer0", "netns", l.peer)
	run("", "ip", "-n", l.gw, "addr", "add", l.gwAddr+"/24", "dev", "gw0")
	run("", "ip", "-n", l.gw, "addr", "add", fmt.Sprintf("2001:db8:1::%d/64", host), "dev", "gw0", "nodad")
	run("", "ip", "-n", l.peer, "addr", "add", l.peerIP+"/24", "dev", "peer0")
	run("", "ip", "-n", l.peer, "addr", "add", fmt.Sprintf("2001:db8:1::%d/64", host+1), "dev", "peer0", "nodad")
	run("", "ip", "-n", l.peer, "addr", "add", razorV4+"/32", "dev", "lo")
	run("", "ip", "-n", l.peer, "addr", "add", razorV6+"/128", "dev", "lo")
	for _, ns := range []string{l.gw, l.peer} {
		run("", "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run("", "ip", "-n", l.gw, "link", "set", "gw0", "up")
	run("", "ip", "-n", l.peer, "link", "set", "peer0", "up")
	run("", "ip", "-n", l.gw, "route", "add", "default", "via", l.peerIP)
	run("", "ip", "-n", l.gw, "-6", "route", "add", "default", "via", fmt.Sprintf("2001:db8:1::%d", host+1))
	run(dropRules, "ip", "netns", "exec", l.gw, "nft", "-f", "-")
	return l
}

// attempt is one client run in a namespace, with its pid.
type attempt struct {
	name string
	pid  int
	err  error
	out  string
}

// drive runs the lab's traffic: from the gateway, socat to TCP 2703 (IPv4
// and IPv6, dropped), UDP 6277 (rejected), TCP 25 (answered: not a drop)
// and a ping (dropped); from the peer, socat to the gateway's TCP 22
// (dropped on input). It returns the gateway-side attempts.
func (l *dropLab) drive(t *testing.T) map[string]*attempt {
	t.Helper()
	for _, tool := range []string{"socat", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("need %s: %v", tool, err)
		}
	}
	// A listener on the peer for the control flow.
	var ln net.Listener
	labtest.InNetns(t, l.peer, func() {
		var err error
		if ln, err = net.Listen("tcp", razorV4+":25"); err != nil {
			t.Errorf("listen: %v", err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	runs := map[string][]string{
		"tcp4":  {l.gw, "socat", "-u", "OPEN:/dev/null", "TCP4:" + razorV4 + ":2703,connect-timeout=2"},
		"tcp6":  {l.gw, "socat", "-u", "OPEN:/dev/null", "TCP6:[" + razorV6 + "]:2703,connect-timeout=2"},
		"udp":   {l.gw, "socat", "-u", "SYSTEM:echo x", "UDP4-SENDTO:" + razorV4 + ":6277"},
		"smtp":  {l.gw, "socat", "-u", "OPEN:/dev/null", "TCP4:" + razorV4 + ":25,connect-timeout=2"},
		"ping":  {l.gw, "ping", "-c", "1", "-W", "1", razorV4},
		"input": {l.peer, "socat", "-u", "OPEN:/dev/null", "TCP4:" + l.gwAddr + ":22,connect-timeout=2"},
	}
	out := map[string]*attempt{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for name, args := range runs {
		cmd := exec.Command("ip", append([]string{"netns", "exec"}, args...)...)
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// ip netns exec execs the command: the pid is socat's or ping's.
		a := &attempt{name: name, pid: cmd.Process.Pid}
		out[name] = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			mu.Lock()
			a.err, a.out = err, buf.String()
			mu.Unlock()
		}()
	}
	wg.Wait()
	if out["smtp"].err != nil {
		t.Errorf("control connection to :25 failed: %v %s", out["smtp"].err, out["smtp"].out)
	}
	for _, name := range []string{"tcp4", "tcp6", "udp", "ping", "input"} {
		if out[name].err == nil {
			t.Errorf("%s: succeeded through a drop rule: %s", name, out[name].out)
		}
	}
	return out
}

// findDrop returns the record for proto, destination port and direction.
func findDrop(ds []capture.LocalDrop, proto uint8, dst string, dir capture.DropDirection) (capture.LocalDrop, bool) {
	for _, d := range ds {
		if d.Proto == proto && d.Dst.String() == dst && d.Direction == dir {
			return d, true
		}
	}
	return capture.LocalDrop{}, false
}

// TestPrivilegedDropProbe runs the same drops in two labs while the probe
// watches only the first (attached to both, but for the second's), and checks the records: 5-tuple, reason,
// direction, process; nothing from the other lab (the namespace filter);
// nothing for the answered connection. It then names the rules with the
// nftables lookup, and checks that Close detaches the probe.
func TestPrivilegedDropProbe(t *testing.T) {
	requireRoot(t)
	a, b := newDropLab(t, 10), newDropLab(t, 20)
	p, err := StartDropProbe(DropOptions{Netns: "/run/netns/" + a.gw})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Attribution() != AttributionOK {
		t.Errorf("attribution: %s", p.Attribution())
	}
	b.drive(t)
	runsA := a.drive(t)

	ds, err := p.Drops()
	if err != nil {
		t.Fatal(err)
	}
	checkStray(t, ds, b)
	checkOutputDrop(t, ds, 6, razorV4+":2703", runsA["tcp4"], a.gwAddr)
	checkOutputDrop(t, ds, 6, "["+razorV6+"]:2703", runsA["tcp6"], "2001:db8:1::10")
	checkOutputDrop(t, ds, 17, razorV4+":6277", runsA["udp"], a.gwAddr)
	if d, ok := findDrop(ds, 1, razorV4+":0", capture.DropOutput); !ok || d.Src.Port() != 8 {
		t.Errorf("no output drop of the ICMP echo request (type 8 code 0): %+v", d)
	}
	in, ok := findDrop(ds, 6, a.gwAddr+":22", capture.DropInput)
	switch {
	case !ok:
		t.Errorf("no input drop to %s:22", a.gwAddr)
	case in.Src.Addr().String() != a.peerIP || in.TCPFlags != 0x02 || in.Process != nil || in.Ifindex != ifindex(t, a.gw, "gw0"):
		t.Errorf("input drop: %+v (want from %s, SYN, no process, gw0's index)", in, a.peerIP)
	}

	st, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v", st)
	var pkts uint64
	for _, d := range ds {
		pkts += d.Packets
	}
	if st.Recorded != pkts || st.ByReason["netfilter-drop"] < pkts || st.MapFull != 0 || st.Truncated != 0 || st.Evicted != 0 {
		t.Errorf("stats %+v, want %d recorded, none lost", st, pkts)
	}

	checkRuleNames(t, a, ds)
	checkDetach(t, p)
}

// checkStray logs every record and requires none from lab other (the
// namespace filter), none for the answered port 25, and no reason other
// than netfilter-drop.
func checkStray(t *testing.T, ds []capture.LocalDrop, other *dropLab) {
	t.Helper()
	for _, d := range ds {
		t.Logf("%s %d %v -> %v %s pkts=%d flags=%#x proc=%+v cgroup=%d if=%d", d.Direction, d.Proto, d.Src, d.Dst,
			d.Reason, d.Packets, d.TCPFlags, d.Process, d.CgroupID, d.Ifindex)
		if d.Reason != "netfilter-drop" {
			t.Errorf("reason %q, want netfilter-drop: %+v", d.Reason, d)
		}
		for _, ip := range []string{other.gwAddr, other.peerIP, "2001:db8:1::20", "2001:db8:1::21"} {
			if d.Src.Addr().String() == ip || d.Dst.Addr().String() == ip {
				t.Errorf("a drop of the other namespace was recorded: %+v", d)
			}
		}
		if d.Dst.Port() == 25 || d.Src.Port() == 25 {
			t.Errorf("the answered connection was recorded: %+v", d)
		}
	}
}

func checkOutputDrop(t *testing.T, ds []capture.LocalDrop, proto uint8, dst string, run *attempt, src string) {
	t.Helper()
	d, ok := findDrop(ds, proto, dst, capture.DropOutput)
	if !ok {
		t.Errorf("no output drop to %s (proto %d)", dst, proto)
		return
	}
	if d.Src.Addr().String() != src || d.Src.Port() == 0 || d.Packets == 0 || d.First.IsZero() || d.Last.Before(d.First) {
		t.Errorf("output drop to %s: %+v", dst, d)
	}
	if proto == 6 && d.TCPFlags != 0x02 {
		t.Errorf("output drop to %s: flags %#x, want SYN only", dst, d.TCPFlags)
	}
	if d.Process == nil || d.Process.Comm != "socat" || int(d.Process.PID) != run.pid {
		t.Errorf("output drop to %s: process %+v, want socat pid %d", dst, d.Process, run.pid)
	}
	if d.CgroupID == 0 {
		t.Errorf("output drop to %s: no cgroup id", dst)
	}
	if age := time.Since(d.Last); age < 0 || age > time.Minute {
		t.Errorf("output drop to %s: last drop %v ago", dst, age)
	}
}

// ifindex is dev's index in namespace ns.
func ifindex(t *testing.T, ns, dev string) int {
	t.Helper()
	var idx int
	labtest.InNetns(t, ns, func() {
		ifc, err := net.InterfaceByName(dev)
		if err != nil {
			t.Errorf("%s in %s: %v", dev, ns, err)
			return
		}
		idx = ifc.Index
	})
	return idx
}

var ruleHandle = regexp.MustCompile(`(?m)^\s*(.*?) # handle (\d+)$`)

// checkRuleNames looks the TCP drops' rules up in the gateway namespace.
func checkRuleNames(t *testing.T, l *dropLab, ds []capture.LocalDrop) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.gw, "nft", "-a", "list", "table", "inet", "fw").Output()
	if err != nil {
		t.Fatal(err)
	}
	handles := map[string]uint64{}
	for _, m := range ruleHandle.FindAllStringSubmatch(string(out), -1) {
		h, _ := strconv.ParseUint(m[2], 10, 64)
		handles[m[1]] = h
	}
	rs, err := nftrules.Load("/run/netns/" + l.gw)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst   string
		dir   capture.DropDirection
		chain string
		rule  string
	}{
		{razorV4 + ":2703", capture.DropOutput, "out", "tcp dport 2703 drop"},
		{"[" + razorV6 + "]:2703", capture.DropOutput, "out", "tcp dport 2703 drop"},
		{l.gwAddr + ":22", capture.DropInput, "in", "tcp dport 22 drop"},
	} {
		d, ok := findDrop(ds, 6, c.dst, c.dir)
		if !ok {
			continue // reported above
		}
		got := rs.Find(capture.RuleQueryOf(d))
		want := capture.RuleLocation{Hook: c.dir.String(), Family: "inet", Table: "fw", Chain: c.chain,
			Handle: handles[c.rule], Verdict: "drop", Certain: true}
		if got != want || want.Handle == 0 {
			t.Errorf("rule for %v: %+v (%s), want %+v", c.dst, got, got, want)
		}
	}
}

// checkDetach closes the probe and waits for its program to go.
func checkDetach(t *testing.T, p *DropProbe) {
	t.Helper()
	info, err := p.objs.DropKfreeSkb.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	p.Close()
	p.Close() // twice is fine
	deadline := time.Now().Add(3 * time.Second)
	for {
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			return
		}
		prog.Close()
		if time.Now().After(deadline) {
			t.Fatalf("program %d still loaded after Close", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
