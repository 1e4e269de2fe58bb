//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// serve starts, in the server namespace, a banner server on :2525, a TLS
// sink on :4443 and a DNS answerer on UDP :53. Nothing listens on :2526
// (RST) or UDP :2703 (ICMP port unreachable).
func serve(t *testing.T, p *labtest.VethPair) {
	t.Helper()
	labtest.InNetns(t, p.Server, func() {
		for _, addr := range []string{"[::]:2525", "[::]:4443"} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listen %s: %v", addr, err)
				return
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						c.Write([]byte("220 mx.example.net ESMTP\r\n"))
						c.SetReadDeadline(time.Now().Add(2 * time.Second))
						buf := make([]byte, 4096)
						c.Read(buf)
					}()
				}
			}()
		}
		sink, err := net.Listen("tcp", "[::]:2600")
		if err != nil {
			t.Errorf("listen sink: %v", err)
			return
		}
		t.Cleanup(func() { sink.Close() })
		go func() {
			for {
				c, err := sink.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		pc, err := net.ListenPacket("udp", "[::]:53")
		if err != nil {
			t.Errorf("listen udp 53: %v", err)
			return
		}
		t.Cleanup(func() { pc.Close() })
		answer := dnsAnswer(t, "mx.example.net", labtest.VethServerV4)
		go func() {
			buf := make([]byte, 512)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(answer, from)
			}
		}()
	})
}

// clientTraffic runs, in the client namespace, the exchanges the test
// expects to see.
func clientTraffic(t *testing.T, p *labtest.VethPair) {
	t.Helper()
	labtest.InNetns(t, p.Client, func() {
		// DNS first, so the answer is valid when the later flows start.
		if c, err := net.Dial("udp", labtest.VethServerV4+":53"); err == nil {
			c.Write(dnsQuery(t, "mx.example.net"))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 512)
			if _, err := c.Read(buf); err != nil {
				t.Errorf("dns answer: %v", err)
			}
			c.Close()
		}
		for _, addr := range []string{labtest.VethServerV4 + ":2525", "[" + labtest.VethServerV6 + "]:2525"} {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Errorf("dial %s: %v", addr, err)
				continue
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			io.ReadAtLeast(c, buf, 5)
			c.Write([]byte("QUIT\r\n"))
			c.Close()
		}
		if c, err := net.DialTimeout("tcp", labtest.VethServerV4+":2526", 2*time.Second); err == nil {
			c.Close()
			t.Errorf("dial :2526 succeeded, want refused")
		}
		if c, err := net.DialTimeout("tcp", labtest.VethServerV4+":4443", 2*time.Second); err == nil {
			c.Write(clientHello("smtp.example.org"))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			c.Read(buf)
			c.Close()
		} else {
			t.Errorf("dial :4443: %v", err)
		}
		// A bulk transfer: TSO/GSO hands the veth super-packets, which the
		// kernel program must count as the segments they stand for.
		if c, err := net.DialTimeout("tcp", labtest.VethServerV4+":2600", 2*time.Second); err == nil {
			c.Write(make([]byte, bulkBytes))
			c.Close()
		} else {
			t.Errorf("dial :2600: %v", err)
		}
		if c, err := net.ListenPacket("udp4", labtest.VethClientV4+":0"); err == nil {
			c.WriteTo([]byte("razor"), &net.UDPAddr{IP: net.ParseIP(labtest.VethServerV4), Port: 2703})
			time.Sleep(200 * time.Millisecond)
			c.Close()
		}
	})
	time.Sleep(300 * time.Millisecond) // FINs and the ICMP error
}

const bulkBytes = 4 << 20

// find returns the flow to resp (proto, "addr:port"), or fails.
func find(t *testing.T, fs []flow.Flow, proto uint8, resp string) flow.Flow {
	t.Helper()
	for _, f := range fs {
		if f.Proto == proto && f.Resp.String() == resp {
			return f
		}
	}
	t.Fatalf("no flow proto %d to %s among %d flows", proto, resp, len(fs))
	return flow.Flow{}
}

// TestPrivilegedLiveVeth attaches the backend to a veth in a namespace,
// runs real connections through it, and checks flows, outcomes, ICMP
// attachment, names from payloads, process attribution and counters.
func TestPrivilegedLiveVeth(t *testing.T) {
	requireRoot(t)
	if err := Supported(); err != nil {
		t.Fatalf("Supported: %v", err)
	}
	p := labtest.NewVethPair(t)
	serve(t, p)
	var live *labtest.Live
	var err error
	labtest.InNetns(t, p.Client, func() {
		var src *Source
		if src, err = Open(capture.LiveOptions{Iface: p.Dev}); err == nil {
			live = labtest.RunLive(src)
		}
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	clientTraffic(t, p)
	snap := live.Snapshot()
	if len(snap.Flows) == 0 {
		t.Fatalf("Snapshot: no flows")
	}
	res, err := live.Stop()
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if again, _ := live.Stop(); again != res {
		t.Errorf("second Stop returned a different result")
	}
	st := res.Stats
	t.Logf("stats: %+v", st)
	if st.Backend != "ebpf" || st.Iface != p.Dev || st.Packets == 0 || st.KernelDrops != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.Attribution != AttributionOK {
		t.Errorf("attribution %q, want %q", st.Attribution, AttributionOK)
	}
	for _, f := range res.Flows {
		t.Logf("%s %d %s -> %s %s %s pkts %d/%d names %v/%v sn %q proc %+v",
			f.UID, f.Proto, f.Orig, f.Resp, f.Outcome, f.State, f.OrigPkts, f.RespPkts, f.OrigNames, f.RespNames, f.ServerName, f.Process)
	}

	smtp := find(t, res.Flows, flow.ProtoTCP, labtest.VethServerV4+":2525")
	if smtp.Outcome != flow.Established || smtp.State != flow.StateSF || smtp.Orig.Addr().String() != labtest.VethClientV4 {
		t.Errorf("smtp v4: %s %s orig %s", smtp.Outcome, smtp.State, smtp.Orig)
	}
	if smtp.Process == nil || smtp.Process.PID != uint32(os.Getpid()) || smtp.Process.Comm == "" {
		t.Errorf("smtp v4 process %+v, want pid %d", smtp.Process, os.Getpid())
	}
	if !slices.Contains(smtp.RespNames, "mx.example.net") {
		t.Errorf("smtp v4 resp names %v, want mx.example.net from the DNS answer", smtp.RespNames)
	}
	smtp6 := find(t, res.Flows, flow.ProtoTCP, "["+labtest.VethServerV6+"]:2525")
	if smtp6.Outcome != flow.Established || smtp6.Process == nil {
		t.Errorf("smtp v6: %s process %+v", smtp6.Outcome, smtp6.Process)
	}
	rej := find(t, res.Flows, flow.ProtoTCP, labtest.VethServerV4+":2526")
	if rej.Outcome != flow.Rejected || rej.State != flow.StateREJ {
		t.Errorf("closed port: %s %s", rej.Outcome, rej.State)
	}
	tlsf := find(t, res.Flows, flow.ProtoTCP, labtest.VethServerV4+":4443")
	if tlsf.ServerName != "smtp.example.org" {
		t.Errorf("tls server name %q, want smtp.example.org", tlsf.ServerName)
	}
	dns := find(t, res.Flows, flow.ProtoUDP, labtest.VethServerV4+":53")
	if dns.Outcome != flow.Established || dns.Process == nil {
		t.Errorf("dns: %s process %+v", dns.Outcome, dns.Process)
	}
	bulk := find(t, res.Flows, flow.ProtoTCP, labtest.VethServerV4+":2600")
	// 1448-byte segments at MTU 1500 (timestamps on): at least this many.
	// Bytes may exceed what was sent by retransmissions (summed payloads).
	if minPkts := uint64(bulkBytes / 1448); bulk.OrigBytes < bulkBytes || bulk.OrigPkts < minPkts {
		t.Errorf("bulk: %d bytes in %d packets, want >= %d bytes in >= %d packets (GSO segments)",
			bulk.OrigBytes, bulk.OrigPkts, bulkBytes, minPkts)
	}
	razor := find(t, res.Flows, flow.ProtoUDP, labtest.VethServerV4+":2703")
	if razor.Outcome != flow.Unreachable || razor.ICMP == nil || razor.ICMP.Reason != "port-unreachable" {
		t.Errorf("razor: %s icmp %+v", razor.Outcome, razor.ICMP)
	}
	if razor.Process == nil || razor.Process.PID != uint32(os.Getpid()) {
		t.Errorf("razor process %+v (sendmsg hook)", razor.Process)
	}
}

// TestPrivilegedAttributionUnavailable: when the cgroup hooks cannot
// attach, the capture still runs and says attribution is unavailable.
func TestPrivilegedAttributionUnavailable(t *testing.T) {
	requireRoot(t)
	saved := cgroupRoot
	cgroupRoot = func() (string, error) { return t.TempDir(), nil } // not a cgroup
	t.Cleanup(func() { cgroupRoot = saved })
	p := labtest.NewVethPair(t)
	var live *labtest.Live
	var err error
	labtest.InNetns(t, p.Client, func() {
		var src *Source
		if src, err = Open(capture.LiveOptions{Iface: p.Dev}); err == nil {
			live = labtest.RunLive(src)
		}
	})
	if err != nil {
		t.Fatalf("Open without attribution: %v", err)
	}
	labtest.InNetns(t, p.Client, func() {
		if c, err := net.ListenPacket("udp4", labtest.VethClientV4+":0"); err == nil {
			c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP(labtest.VethServerV4), Port: 2703})
			c.Close()
		}
	})
	time.Sleep(100 * time.Millisecond)
	res, err := live.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Stats.Attribution, "unavailable: ") {
		t.Errorf("attribution %q, want unavailable: ...", res.Stats.Attribution)
	}
	f := find(t, res.Flows, flow.ProtoUDP, labtest.VethServerV4+":2703")
	if f.Process != nil {
		t.Errorf("process %+v without hooks", f.Process)
	}
	t.Logf("attribution: %s", res.Stats.Attribution)
}

// TestPrivilegedInterfaceDown: setting the captured interface down, or
// deleting it (itself or its veth peer, which takes both ends), ends the
// capture by itself within a second (Run returns), with the flows seen
// before delivered and the AF_PACKET backend's error.
func TestPrivilegedInterfaceDown(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		// ip(8) arguments, given the pair; run after the traffic.
		cmd  func(p *labtest.VethPair) []string
		want error
		msg  string
	}{
		{"set down", func(p *labtest.VethPair) []string { return []string{"-n", p.Client, "link", "set", p.Dev, "down"} },
			capture.ErrIfaceDown, "capture on gw0 stopped: interface is down"},
		{"deleted", func(p *labtest.VethPair) []string { return []string{"-n", p.Client, "link", "del", p.Dev} },
			capture.ErrNoInterface, "capture on gw0 stopped: no such interface"},
		{"peer deleted", func(p *labtest.VethPair) []string { return []string{"-n", p.Server, "link", "del", "srv0"} },
			capture.ErrNoInterface, "capture on gw0 stopped: no such interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := labtest.NewVethPair(t)
			var live *labtest.Live
			var err error
			labtest.InNetns(t, p.Client, func() {
				var src *Source
				if src, err = Open(capture.LiveOptions{Iface: p.Dev}); err == nil {
					live = labtest.RunLive(src)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer live.Stop()
			labtest.InNetns(t, p.Client, func() {
				if c, err := net.ListenPacket("udp4", labtest.VethClientV4+":0"); err == nil {
					c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP(labtest.VethServerV4), Port: 2703})
					c.Close()
				}
			})
			time.Sleep(100 * time.Millisecond)
			select {
			case <-live.Ended():
				t.Fatal("the capture ended while the interface was up")
			default:
			}
			args := tc.cmd(p)
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
			}
			changed := time.Now()
			select {
			case <-live.Ended():
			case <-time.After(3 * time.Second):
				t.Fatal("the capture did not end 3 s after the interface went down or away")
			}
			t.Logf("ended %v after ip %s", time.Since(changed).Round(time.Millisecond), strings.Join(args, " "))
			res, err := live.Stop()
			if !errors.Is(err, tc.want) || err.Error() != tc.msg {
				t.Errorf("Stop error %v, want %q", err, tc.msg)
			}
			if res == nil {
				t.Fatal("no result")
			}
			f := find(t, res.Flows, flow.ProtoUDP, labtest.VethServerV4+":2703")
			if f.OrigPkts == 0 {
				t.Errorf("flow before the change has no packets: %+v", f)
			}
		})
	}
}
