package live

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

// requireRoot skips a privileged test when not root (and fails it under
// CI=true).
func requireRoot(t *testing.T) {
	t.Helper()
	labtest.RequireRoot(t, "AF_PACKET sockets and network namespaces")
}

// inPrivateNetns runs fn on an OS thread moved into a fresh network
// namespace with only lo (up), so nothing outside the test is captured or
// reached. Sockets fn opens stay in that namespace after it returns.
func inPrivateNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		// The thread is never unlocked: it dies with the goroutine, so its
		// changed namespace cannot leak to other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		if err := setLinkUp("lo"); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("private network namespace: %v", err)
	}
}

// setLinkUp sets IFF_UP on iface with an ioctl (no ip(8) needed).
func setLinkUp(iface string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// sendUDP sends n datagrams to 127.0.0.1:port from the calling thread's
// namespace.
func sendUDP(t *testing.T, port, n int) {
	t.Helper()
	// Unconnected, so the ICMP port-unreachable answers do not fail the
	// next writes.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		c.WriteToUDP([]byte("flowaudit test"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	}
}

func TestPrivilegedAFPacketSourceLoopback(t *testing.T) {
	requireRoot(t)
	pcapPath := filepath.Join(t.TempDir(), "out.pcapng")
	var src *afpSource
	var openErr error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inPrivateNetns(t, func() {
		src, openErr = openAFPacket(capture.LiveOptions{Iface: "lo", WritePcap: pcapPath, Filter: "udp port 9999"})
		src.ctx = ctx // as AFPacket.Run sets it
		if openErr == nil {
			sendUDP(t, 9999, 5)
			sendUDP(t, 9998, 5) // filtered out
		}
	})
	if openErr != nil {
		t.Fatal(openErr)
	}
	defer src.close()

	var f capture.Frame
	got := 0
	start := time.Now()
	for got < 5 && time.Since(start) < 3*time.Second {
		err := src.Next(&f)
		if errors.Is(err, capture.ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.LinkType != layers.LinkTypeEthernet || f.WireLen < 14+20+8 || f.TS == 0 {
			t.Fatalf("frame %+v", f)
		}
		got++
	}
	// lo shows each datagram once (outgoing): 5 pass the filter.
	if got != 5 {
		t.Fatalf("read %d frames, want the 5 that match the filter", got)
	}
	if err := src.Next(&f); !errors.Is(err, capture.ErrTimeout) {
		t.Fatalf("quiet wire: Next = %v, want ErrTimeout", err)
	}
	cancel()
	if err := src.Next(&f); err != io.EOF {
		t.Fatalf("after cancel: Next = %v, want io.EOF", err)
	}
	if seen, drops := src.kernelStats(); seen != 5 || drops != 0 {
		t.Errorf("kernel stats: seen %d drops %d, want 5 and 0", seen, drops)
	}
	if _, err := os.Stat(pcapPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pcap visible before stop: %v", err)
	}
	if err := src.closePcap(start, time.Now()); err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	r, err := pcapgo.NewNgReader(pf, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Errorf("pcapng holds %d packets, want 5", n)
	}
}

func TestPrivilegedAFPacketErrors(t *testing.T) {
	requireRoot(t)
	var errMissing, errDown error
	inPrivateNetns(t, func() {
		_, errMissing = openAFPacket(capture.LiveOptions{Iface: "eth9"})
		// A fresh namespace's lo is up; take it down to test the check.
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		ifr, _ := unix.NewIfreq("lo")
		unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
		ifr.SetUint16(ifr.Uint16() &^ unix.IFF_UP)
		unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
		unix.Close(fd)
		_, errDown = openAFPacket(capture.LiveOptions{Iface: "lo"})
	})
	if errMissing == nil || errMissing.Error() != "capture on eth9: no such interface" {
		t.Errorf("missing interface: %v", errMissing)
	}
	if !errors.Is(errDown, capture.ErrIfaceDown) {
		t.Errorf("interface down: %v", errDown)
	}
}

// TestPrivilegedAFPacketNoPermission runs the open as user nobody (no
// CAP_NET_RAW) in a child process and checks the message names the
// capability.
func TestPrivilegedAFPacketNoPermission(t *testing.T) {
	if os.Getenv("AFP_OPEN_AS_NOBODY") != "" {
		_, err := openAFPacket(capture.LiveOptions{Iface: "lo"})
		if err == nil {
			os.Stdout.WriteString("opened\n")
			os.Exit(0)
		}
		os.Stdout.WriteString(err.Error() + "\n")
		if errors.Is(err, capture.ErrPermission) {
			os.Exit(0)
		}
		os.Exit(1)
	}
	requireRoot(t)
	// nobody cannot reach the go build cache: run a world-readable copy.
	dir, err := os.MkdirTemp("", "afp-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "capture.test")
	data, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(bin, data, 0o755)
	}
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPrivilegedAFPacketNoPermission$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AFP_OPEN_AS_NOBODY=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	want := "capture on lo: needs CAP_NET_RAW (run as root or grant the capability)\n"
	if err != nil || string(out) != want {
		t.Errorf("as nobody: %v, output %q, want %q", err, out, want)
	}
}

// TestPrivilegedStartAFPacket runs a whole live capture on lo in a private
// namespace: a TCP connection that is accepted, one that is refused (RST)
// and a UDP datagram to a closed port, then checks what progress shows
// (the open flows) and the end (cancellation: every flow delivered).
func TestPrivilegedStartAFPacket(t *testing.T) {
	requireRoot(t)
	var live *labtest.Live
	var src *Source
	var err error
	inPrivateNetns(t, func() {
		src, err = Open("afpacket", capture.LiveOptions{Iface: "lo"})
		if err != nil {
			return
		}
		live = labtest.RunLive(src)
		ln, lerr := net.Listen("tcp4", "127.0.0.1:2525")
		if lerr != nil {
			t.Error(lerr)
			return
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Write([]byte("220 ready\r\n"))
				c.Close()
			}
		}()
		if c, err := net.Dial("tcp4", "127.0.0.1:2525"); err == nil {
			buf := make([]byte, 64)
			c.Read(buf)
			c.Close()
		} else {
			t.Error(err)
		}
		if _, err := net.Dial("tcp4", "127.0.0.1:2526"); err == nil {
			t.Error("connect to a closed port worked")
		}
		sendUDP(t, 5353, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if src.Backend() != "afpacket" {
		t.Errorf("backend %q", src.Backend())
	}
	// Progress shows the flows while the capture runs (the open ones).
	deadline := time.Now().Add(5 * time.Second)
	for {
		snap := live.Snapshot()
		if len(snap.Flows) >= 3 && snap.Stats.Packets > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot never showed 3 flows: %d flows, %d packets", len(snap.Flows), snap.Stats.Packets)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := live.Stop()
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[uint16]string{}
	for _, f := range res.Flows {
		outcomes[f.Resp.Port()] = string(f.Outcome)
	}
	// lo answers the datagram with an ICMP port unreachable.
	want := map[uint16]string{2525: "established", 2526: "rejected", 5353: "unreachable"}
	for port, o := range want {
		if outcomes[port] != o {
			t.Errorf("port %d: outcome %q, want %q (all: %v)", port, outcomes[port], o, outcomes)
		}
	}
	st := res.Stats
	if st.Backend != "afpacket" || st.Iface != "lo" || st.Packets < 9 || st.KernelDrops != 0 || st.Flows < 3 {
		t.Errorf("stats %+v", st)
	}
	again, _ := live.Stop()
	if again != res {
		t.Error("second Stop returned another result")
	}
}

// TestPrivilegedAFPacketNextAllocs: reading a frame from the ring (and
// appending it to the --write-pcap file) allocates nothing.
func TestPrivilegedAFPacketNextAllocs(t *testing.T) {
	requireRoot(t)
	var src *afpSource
	var err error
	inPrivateNetns(t, func() {
		src, err = openAFPacket(capture.LiveOptions{Iface: "lo", WritePcap: filepath.Join(t.TempDir(), "a.pcapng")})
		if err == nil {
			sendUDP(t, 9999, 400)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	defer src.pcapFile.Abort()
	var f capture.Frame
	for i := 0; i < 10; i++ {
		if err := src.Next(&f); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(300, func() {
		if err := src.Next(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.1f times per frame, want 0", allocs)
	}
}

// TestPrivilegedAFPacketInterfaceDown: the interface going down ends the
// capture by itself (Run returns); the flows so far are delivered and the
// error says why.
func TestPrivilegedAFPacketInterfaceDown(t *testing.T) {
	requireRoot(t)
	var live *labtest.Live
	var err error
	inPrivateNetns(t, func() {
		var src *Source
		src, err = Open("afpacket", capture.LiveOptions{Iface: "lo"})
		if err != nil {
			return
		}
		live = labtest.RunLive(src)
		sendUDP(t, 7777, 3)
		time.Sleep(300 * time.Millisecond)
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		ifr, _ := unix.NewIfreq("lo")
		unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
		ifr.SetUint16(ifr.Uint16() &^ unix.IFF_UP)
		unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
		unix.Close(fd)
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-live.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("capture did not end when its interface went down")
	}
	res, err := live.Stop()
	if !errors.Is(err, capture.ErrIfaceDown) || err.Error() != "capture on lo stopped: interface is down" {
		t.Errorf("Stop error %v, want the interface-down error", err)
	}
	if res == nil || len(res.Flows) == 0 {
		t.Fatalf("flows before the interface went down are lost: %+v", res)
	}
}
