package live

import (
	"errors"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// TestPrivilegedBackendsEndAlike: both backends end a capture the same
// way. Cancelling is an orderly stop: Run returns nil and every flow is
// delivered, the one still open marked so. The interface going down ends
// it by itself: the flows so far are delivered and both say so in the
// same words.
func TestPrivilegedBackendsEndAlike(t *testing.T) {
	requireRoot(t)
	for _, backend := range []string{"afpacket", "ebpf"} {
		t.Run(backend+"/cancel", func(t *testing.T) {
			p := labtest.NewVethPair(t)
			live := startOn(t, p, backend)
			conn := openConn(t, p)
			defer conn.Close()
			time.Sleep(1200 * time.Millisecond) // one eBPF poll; AF_PACKET hands over sooner
			res, err := live.Stop()
			if err != nil {
				t.Fatalf("Stop: %v, want nil", err)
			}
			open := 0
			for _, f := range res.Flows {
				if f.Resp.Port() == 2525 && f.Open {
					open++
				}
			}
			if open != 1 || res.Stats.Backend != backend || res.Stats.Iface != p.Dev {
				t.Errorf("%d open flows to :2525 (want 1), stats %+v", open, res.Stats)
			}
		})
		t.Run(backend+"/down", func(t *testing.T) {
			p := labtest.NewVethPair(t)
			live := startOn(t, p, backend)
			conn := openConn(t, p)
			defer conn.Close()
			time.Sleep(200 * time.Millisecond)
			if out, err := exec.Command("ip", "-n", p.Client, "link", "set", p.Dev, "down").CombinedOutput(); err != nil {
				t.Fatalf("ip link set down: %v: %s", err, out)
			}
			select {
			case <-live.Ended():
			case <-time.After(3 * time.Second):
				t.Fatal("the capture did not end when its interface went down")
			}
			res, err := live.Stop()
			if want := "capture on " + p.Dev + " stopped: interface is down"; !errors.Is(err, capture.ErrIfaceDown) || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
			if len(res.Flows) == 0 {
				t.Error("the flows before the interface went down are lost")
			}
		})
	}
}

// startOn opens backend on the pair's client side and runs it.
func startOn(t *testing.T, p *labtest.VethPair, backend string) *labtest.Live {
	t.Helper()
	var live *labtest.Live
	var err error
	labtest.InNetns(t, p.Client, func() {
		var src *Source
		if src, err = Open(backend, capture.LiveOptions{Iface: p.Dev}); err == nil {
			live = labtest.RunLive(src)
		}
	})
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	return live
}

// openConn connects from the client side to a listener on the server
// side, port 2525, and leaves the connection open.
func openConn(t *testing.T, p *labtest.VethPair) net.Conn {
	t.Helper()
	var c net.Conn
	labtest.InNetns(t, p.Server, func() {
		ln, err := net.Listen("tcp4", labtest.VethServerV4+":2525")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				s, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { s.Close() })
			}
		}()
	})
	labtest.InNetns(t, p.Client, func() {
		var err error
		if c, err = net.DialTimeout("tcp4", labtest.VethServerV4+":2525", 2*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	return c
}
