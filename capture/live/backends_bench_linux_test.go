//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package live

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

const genEnv = "FLOWAUDIT_EBPF_GEN" // "netns/iface/seconds" for the generator process

// Generator traffic: UDP from genFlows() source ports of 203.0.113.x to
// 198.51.100.1:9, sent to a unicast MAC the receiver does not own, so the
// receiving stack drops each frame right after TC ingress (PACKET_OTHERHOST)
// and no reply traffic disturbs the count.
const (
	genDst = "198.51.100.1"
)

// genFlows is the number of distinct flows the generator cycles through:
// FLOWAUDIT_BENCH_FLOWS, default 256 (up to 65536 per source address; the
// source address changes every 50000 flows).
func genFlows() int {
	if n, _ := strconv.Atoi(os.Getenv("FLOWAUDIT_BENCH_FLOWS")); n > 0 {
		return n
	}
	return 256
}

// genFrame is the generator's UDP frame from src to genDst:9, with an
// 18-byte payload (64 bytes in all), to a MAC address no one owns.
func genFrame(t *testing.T, src netip.AddrPort) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a},
		DstMAC: net.HardwareAddr{0x02, 0, 0, 0, 0xee, 0xee}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: src.Addr().AsSlice(), DstIP: net.ParseIP(genDst).To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: 9}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(make([]byte, 18))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHelperGenerator is not a test: run by TestBenchRate in a child
// process, it writes frames on AF_PACKET sockets (qdisc bypassed,
// sendmmsg batches) from two goroutines for the given seconds and prints
// "sent N".
func TestHelperGenerator(t *testing.T) {
	spec := os.Getenv(genEnv)
	if spec == "" {
		t.Skip("helper process for TestBenchRate")
	}
	parts := strings.Split(spec, "/")
	secs, _ := strconv.Atoi(parts[2])
	frames := make([][]byte, genFlows())
	for i := range frames {
		src := fmt.Sprintf("203.0.113.%d:%d", 7+i/50000, 10000+i%50000)
		frames[i] = genFrame(t, netip.MustParseAddrPort(src)) // 64-byte frames
	}
	workers := 2
	fds := make([]int, workers)
	var setupErr error
	labtest.InNetns(t, parts[0], func() {
		ifc, err := net.InterfaceByName(parts[1])
		if err != nil {
			setupErr = err
			return
		}
		for i := range fds {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				setupErr = err
				return
			}
			_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
			if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifc.Index}); err != nil {
				setupErr = err
				return
			}
			fds[i] = fd
		}
	})
	if setupErr != nil {
		t.Fatalf("generator socket: %v", setupErr)
	}
	var sent atomic.Uint64
	var wg sync.WaitGroup
	stop := time.Now().Add(time.Duration(secs) * time.Second)
	for w := range fds {
		wg.Add(1)
		go func(fd int) {
			defer wg.Done()
			// sendmmsg: one syscall per batch of frames (a syscall costs
			// microseconds on this VM; one per frame caps the rate far
			// below what the receive path can take).
			const batchLen = 256
			type mmsghdr struct {
				hdr unix.Msghdr
				n   uint32
			}
			iovs := make([]unix.Iovec, batchLen)
			msgs := make([]mmsghdr, batchLen)
			for j := range msgs {
				iovs[j].Base = &frames[j%len(frames)][0]
				iovs[j].SetLen(len(frames[j%len(frames)]))
				msgs[j].hdr.Iov = &iovs[j]
				msgs[j].hdr.Iovlen = 1
			}
			var n, fails uint64
			var last error
			for off := 0; time.Now().Before(stop); off += batchLen {
				if len(frames) > batchLen {
					for j := range iovs {
						iovs[j].Base = &frames[(off+j)%len(frames)][0]
					}
				}
				r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), batchLen, 0, 0, 0)
				if errno != 0 {
					fails++
					last = errno
					continue
				}
				n += uint64(r)
			}
			runtime.KeepAlive(frames)
			sent.Add(n)
			if fails > 0 {
				fmt.Fprintf(os.Stderr, "generator: %d writes failed (%v)\n", fails, last)
			}
		}(fds[w])
	}
	wg.Wait()
	fmt.Printf("sent %d\n", sent.Load())
	os.Exit(0)
}

// TestBenchRate measures, for each backend, packets offered by the
// generator, packets the capture accounted, drops it reported and the user
// and system CPU time the capturing process spent. Results are logged as
// Markdown table rows for docs/PERFORMANCE.md. Run as root with:
//
//	FLOWAUDIT_BENCH=10 go test -run TestBenchRate -v ./capture/ebpf
func TestBenchRate(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("FLOWAUDIT_BENCH"))
	if secs <= 0 {
		t.Skip("rate benchmark: set FLOWAUDIT_BENCH=<seconds> and run as root")
	}
	labtest.RequireRoot(t, "BPF programs, AF_PACKET sockets, network namespaces")
	// "none" runs the generator with nothing attached: its maximum rate.
	for _, backend := range []string{"none", "ebpf", "afpacket"} {
		p := labtest.NewVethPair(t)
		var live *labtest.Live
		var err error
		labtest.InNetns(t, p.Client, func() {
			if backend == "none" {
				return
			}
			var src *Source
			if src, err = Open(backend, capture.LiveOptions{Iface: p.Dev}); err == nil {
				live = labtest.RunLive(src)
			}
		})
		if err != nil {
			t.Fatalf("%s: start: %v", backend, err)
		}
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGenerator$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s/srv0/%d", genEnv, p.Server, secs))
		cmd.Stderr = os.Stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var offered uint64
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "sent "); ok {
				offered, _ = strconv.ParseUint(n, 10, 64)
			}
		}
		_ = cmd.Wait()
		if live == nil {
			t.Logf("| %s | %d s | %d (%.2f Mpps) | - | - | - | - |", backend, secs, offered, float64(offered)/float64(secs)/1e6)
			continue
		}
		time.Sleep(500 * time.Millisecond) // let the capture drain
		res, err := live.Stop()
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		if err != nil {
			t.Fatalf("%s: stop: %v", backend, err)
		}
		var accounted uint64
		dst := netip.MustParseAddr(genDst)
		for _, f := range res.Flows {
			if f.Resp.Addr() == dst || f.Orig.Addr() == dst {
				accounted += f.OrigPkts + f.RespPkts
			}
		}
		user := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano())
		sys := time.Duration(ru1.Stime.Nano() - ru0.Stime.Nano())
		t.Logf("| %s | %d s | %d (%.2f Mpps) | %d (%.2f%%) | %d | %.2f s (%.1f%% of a core) | %.2f s |",
			backend, secs, offered, float64(offered)/float64(secs)/1e6, accounted,
			100*float64(accounted)/float64(max(offered, 1)), res.Stats.KernelDrops,
			user.Seconds(), 100*user.Seconds()/float64(secs), sys.Seconds())
	}
}
