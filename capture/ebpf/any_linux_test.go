//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// anyLab is a router namespace with one veth to a namespace A at the
// start; addB adds a second, to B, while a capture runs. The router
// forwards between them. Addresses: 10.98.1.1 (router) / 10.98.1.2 (A),
// 10.98.2.1 (router) / 10.98.2.2 (B).
// A bridge on the router, br0 (10.98.3.1), has one port, a veth to C
// (10.98.3.2).
type anyLab struct{ r, a, b, c string }

func (l *anyLab) ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newAnyLab(t *testing.T) *anyLab {
	id := fmt.Sprintf("fa-any-%d", os.Getpid())
	l := &anyLab{r: id + "-r", a: id + "-a", b: id + "-b", c: id + "-c"}
	t.Cleanup(func() {
		for _, ns := range []string{l.r, l.a, l.b, l.c} {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for _, ns := range []string{l.r, l.a, l.b, l.c} {
		l.ip(t, "netns", "add", ns)
		l.ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	if out, err := exec.Command("ip", "netns", "exec", l.r, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	l.link(t, l.a, "r0", "a0", "10.98.1")
	l.ip(t, "-n", l.r, "link", "add", "br0", "type", "bridge")
	l.ip(t, "link", "add", "r2", "netns", l.r, "type", "veth", "peer", "c0", "netns", l.c)
	l.ip(t, "-n", l.r, "link", "set", "r2", "master", "br0")
	l.ip(t, "-n", l.r, "addr", "add", "10.98.3.1/24", "dev", "br0")
	l.ip(t, "-n", l.c, "addr", "add", "10.98.3.2/24", "dev", "c0")
	for _, d := range [][2]string{{l.r, "br0"}, {l.r, "r2"}, {l.c, "c0"}} {
		l.ip(t, "-n", d[0], "link", "set", d[1], "up")
	}
	return l
}

// link joins the router and ns by a veth (rdev on the router, dev in ns)
// on net.0/24, the router at .1 and ns's default route through it.
func (l *anyLab) link(t *testing.T, ns, rdev, dev, net string) {
	t.Helper()
	l.ip(t, "link", "add", rdev, "netns", l.r, "type", "veth", "peer", dev, "netns", ns)
	l.ip(t, "-n", l.r, "addr", "add", net+".1/24", "dev", rdev)
	l.ip(t, "-n", ns, "addr", "add", net+".2/24", "dev", dev)
	l.ip(t, "-n", l.r, "link", "set", rdev, "up")
	l.ip(t, "-n", ns, "link", "set", dev, "up")
	l.ip(t, "-n", ns, "route", "add", "default", "via", net+".1")
}

// udpEcho answers every datagram to port 7 in ns until the test ends.
func udpEcho(t *testing.T, ns string) {
	labtest.InNetns(t, ns, func() {
		pc, err := net.ListenPacket("udp4", ":7")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 512)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
	})
}

// udpPings sends n datagrams from ns to dst:7, one at a time, each answered.
func udpPings(t *testing.T, ns, dst string, n int) {
	t.Helper()
	labtest.InNetns(t, ns, func() {
		c, err := net.Dial("udp4", dst+":7")
		if err != nil {
			t.Errorf("dial %s: %v", dst, err)
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for range n {
			c.Write([]byte("ping"))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Errorf("echo %s -> %s: %v", ns, dst, err)
				return
			}
		}
	})
}

// TestPrivilegedAnyNewInterface captures on "any" in a router namespace
// and checks that each packet counts once: traffic the router sends
// itself (egress), and traffic it forwards (seen in by one interface and
// out by another, counted at ingress only), with a second interface added
// while capturing (its traffic seen within a rescan) and deleted before
// the end (no error); a bridge's traffic counts once, at the bridge, not
// again at its port.
func TestPrivilegedAnyNewInterface(t *testing.T) {
	requireRoot(t)
	l := newAnyLab(t)
	udpEcho(t, l.a)
	udpEcho(t, l.b)
	udpEcho(t, l.c)
	var live *labtest.Live
	var err error
	labtest.InNetns(t, l.r, func() {
		var src *Source
		if src, err = Open(capture.LiveOptions{Iface: "any"}); err == nil {
			live = labtest.RunLive(src)
		}
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	udpPings(t, l.r, "10.98.1.2", 3) // the router's own, by r0
	udpPings(t, l.r, "10.98.3.2", 2) // the router's own, by br0 and its port r2

	l.link(t, l.b, "r1", "b0", "10.98.2")
	time.Sleep(3 * ifaceCheckEvery)  // a rescan attaches r1
	udpPings(t, l.r, "10.98.2.2", 4) // the router's own, by r1
	udpPings(t, l.a, "10.98.2.2", 5) // forwarded: in by r0, out by r1; back in by r1, out by r0
	l.ip(t, "-n", l.r, "link", "del", "r1")
	time.Sleep(2 * ifaceCheckEvery)

	res, err := live.Stop()
	if err != nil {
		t.Fatalf("Stop: %v (an interface gone on any is no error)", err)
	}
	if res.Stats.Iface != "any" || len(res.Stats.Warnings) != 0 {
		t.Errorf("stats: iface %q warnings %q", res.Stats.Iface, res.Stats.Warnings)
	}
	for _, c := range []struct {
		orig, resp string
		n          uint64
	}{
		{"10.98.1.1", "10.98.1.2", 3},
		{"10.98.2.1", "10.98.2.2", 4},
		{"10.98.1.2", "10.98.2.2", 5},
		{"10.98.3.1", "10.98.3.2", 2},
	} {
		var got []string
		found := false
		for _, f := range res.Flows {
			if f.Proto != flow.ProtoUDP || f.Resp.Port() != 7 {
				continue
			}
			got = append(got, fmt.Sprintf("%s->%s %d/%d", f.Orig, f.Resp, f.OrigPkts, f.RespPkts))
			if f.Orig.Addr().String() == c.orig && f.Resp.Addr().String() == c.resp {
				found = true
				if f.OrigPkts != c.n || f.RespPkts != c.n || f.Outcome != flow.Established {
					t.Errorf("%s -> %s: %d/%d packets %s, want %d/%d established (each packet once)",
						c.orig, c.resp, f.OrigPkts, f.RespPkts, f.Outcome, c.n, c.n)
				}
			}
		}
		if !found {
			t.Errorf("no flow %s -> %s:7 in %v", c.orig, c.resp, got)
		}
	}
}
