package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/internal/labtest"
)

// The AF_PACKET rate measurement (docs/PERFORMANCE.md, "Live capture").
// It is a measurement, not a check, so it runs only when asked:
//
//	sudo FLOWAUDIT_RATE=1 go test -run TestAFPacketRate -v -timeout 10m ./cmd/flowaudit/
//
// FLOWAUDIT_RATES (comma-separated packets/s) and FLOWAUDIT_RATE_SECONDS
// override the rates and the seconds per rate.

// TestAFPacketRate brings a lab up, runs `flowaudit capture --iface gw0
// --backend afpacket` pinned to CPU 1 in the gateway namespace, and sends
// UDP frames at increasing rates from the other end of the veth (the
// firewall's lan0) with a generator pinned to CPU 0; for each rate it
// reports what was sent, captured and dropped by the kernel
// (PACKET_STATISTICS), and the capture's CPU time per packet.
func TestAFPacketRate(t *testing.T) {
	if os.Getenv(blastEnv) != "" {
		blastChild(t)
		return
	}
	if os.Getenv("FLOWAUDIT_RATE") == "" {
		t.Skip("measurement: set FLOWAUDIT_RATE=1 (as root) to run it")
	}
	rates := []int{50000, 100000, 200000, 300000, 400000, 600000, 800000, 1000000, 1500000}
	if s := os.Getenv("FLOWAUDIT_RATES"); s != "" {
		rates = rates[:0]
		for _, f := range strings.Split(s, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatal(err)
			}
			rates = append(rates, r)
		}
	}
	secs, flows := 5, 1024
	if s := os.Getenv("FLOWAUDIT_RATE_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("FLOWAUDIT_RATE_FLOWS"); s != "" {
		flows, _ = strconv.Atoi(s)
	}
	l := labtest.Up(t)
	mac, err := l.Command(labtest.Gateway, "cat", "/sys/class/net/"+l.GatewayIface()+"/address").Output()
	if err != nil {
		t.Fatal(err)
	}
	if m := os.Getenv("FLOWAUDIT_RATE_MAC"); m != "" {
		mac = []byte(m)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average before: %s", strings.TrimSpace(string(load)))
	t.Logf("%-8s %10s %12s %12s %12s %8s %8s %10s", "CPUs", "target/s", "sent/s", "captured", "kernel drops", "drop %", "CPU s", "µs/pkt")
	// separate: capture on CPU 1, generator (and the kernel's receive
	// work, done in its softirq) on CPU 0. shared: both on CPU 0, as on a
	// busy single-core gateway; there the ring fills and drops begin.
	for _, cfg := range []struct {
		name    string
		capture int
	}{{"separate", 1}, {"shared", 0}} {
		for _, rate := range rates {
			r := measureRate(t, l, self, string(mac), cfg.capture, rate, secs, flows)
			t.Logf("%-8s %10d %12.0f %12d %12d %8.2f %8.2f %10.2f", cfg.name, rate, r.sendRate, r.captured, r.drops,
				100*float64(r.drops)/float64(r.captured+r.drops), r.cpu, 1e6*r.cpu/float64(r.captured))
		}
	}
	load, _ = os.ReadFile("/proc/loadavg")
	t.Logf("load average after: %s", strings.TrimSpace(string(load)))
}

type rateResult struct {
	sendRate        float64
	captured, drops uint64
	cpu             float64 // capture's user+system seconds
}

// measureRate runs one capture while the generator sends at rate for secs.
func measureRate(t *testing.T, l *labtest.Lab, self, mac string, captureCPU, rate, secs, flows int) rateResult {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	c := startCapture(t, l, "capture", "--iface", l.GatewayIface(), "--backend", "afpacket", "-p", "mailcleaner",
		"--fail-on", "none", "-o", out)
	// Pin the capture here: taskset would stand between ip netns exec and
	// flowaudit and take the SIGINT.
	if err := unix.SchedSetaffinity(c.cmd.Process.Pid, cpuSet(captureCPU)); err != nil {
		t.Fatal(err)
	}
	gen := l.Command(labtest.Firewall, "taskset", "-c", "0", self, "-test.run=^TestAFPacketRate$")
	gen.Env = append(os.Environ(), fmt.Sprintf("%s=lan0,%s,%d,%ds,%d", blastEnv, strings.TrimSpace(mac), rate, secs, flows))
	genOut, err := gen.Output()
	i := strings.Index(string(genOut), "sent ")
	if err != nil || i < 0 {
		t.Fatalf("generator: %v: %s", err, genOut)
	}
	var sent uint64
	var el float64
	fmt.Sscanf(string(genOut[i:]), "sent %d in %g", &sent, &el)
	time.Sleep(300 * time.Millisecond)
	if code := c.stopWithin(t, 5*time.Minute, syscall.SIGINT); code != 0 {
		t.Fatalf("capture exit %d: %s", code, c.stderr.String())
	}
	ru := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Capture struct {
			Packets     uint64 `json:"packets"`
			KernelDrops uint64 `json:"kernel_drops"`
		} `json:"capture"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rateResult{sendRate: float64(sent) / el, captured: rep.Capture.Packets, drops: rep.Capture.KernelDrops,
		cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()}
}

const blastEnv = "FLOWAUDIT_BLAST"

func cpuSet(cpu int) *unix.CPUSet {
	var s unix.CPUSet
	s.Set(cpu)
	return &s
}

// blastChild is the generator, run inside the firewall namespace:
// FLOWAUDIT_BLAST=IFACE,DSTMAC,RATE,DURATION. It sends 60-byte UDP/IPv4
// frames to 192.0.2.10 from 1024 source address/port pairs (so the
// capture tracks as many flows) through a raw AF_PACKET socket that
// bypasses the qdisc, 32 frames per sendmmsg, paced against the clock,
// and prints "sent N in SECONDS".
func blastChild(t *testing.T) {
	parts := strings.Split(os.Getenv(blastEnv), ",")
	if len(parts) != 5 {
		t.Fatalf("%s: want IFACE,DSTMAC,RATE,DURATION,FLOWS", blastEnv)
	}
	ifi, err := net.InterfaceByName(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := net.ParseMAC(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	rate, _ := strconv.Atoi(parts[2])
	dur, err := time.ParseDuration(parts[3])
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	const batch = 256
	nflows, err := strconv.Atoi(parts[4])
	if err != nil || nflows < 1 {
		t.Fatalf("%s: bad flow count %q", blastEnv, parts[4])
	}
	frames := make([][]byte, nflows)
	for i := range frames {
		frames[i] = udpFrame(dst, ifi.HardwareAddr, [4]byte{198, 51, 100, byte(1 + i%250)}, [4]byte{192, 0, 2, 10},
			uint16(1024+i/250%64000), uint16(20000+i%64))
	}
	type mmsghdr struct {
		hdr unix.Msghdr
		n   uint32
		_   [4]byte
	}
	iovs := make([]unix.Iovec, batch)
	msgs := make([]mmsghdr, batch)
	start := time.Now()
	var sent uint64
	for {
		el := time.Since(start)
		if el >= dur {
			break
		}
		target := uint64(float64(rate) * el.Seconds())
		if sent >= target {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		n := min(target-sent, batch)
		for i := range n {
			f := frames[(sent+i)%uint64(nflows)]
			iovs[i].Base = &f[0]
			iovs[i].SetLen(len(f))
			msgs[i].hdr.Iov = &iovs[i]
			msgs[i].hdr.SetIovlen(1)
		}
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(n), 0, 0, 0)
		if e != 0 {
			continue
		}
		sent += uint64(r)
	}
	fmt.Printf("sent %d in %.3f\n", sent, time.Since(start).Seconds())
}

// udpFrame builds an Ethernet/IPv4/UDP frame with 18 bytes of payload.
func udpFrame(dst, src net.HardwareAddr, sip, dip [4]byte, sport, dport uint16) []byte {
	b := make([]byte, 14+20+8+18)
	copy(b[0:6], dst)
	copy(b[6:12], src)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(len(b)-14))
	copy(ip[12:16], sip[:])
	copy(ip[16:20], dip[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	u := b[34:42]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], 8+18)
	return b
}
