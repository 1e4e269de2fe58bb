package live

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/flowaudit/flowaudit/capture"
)

func TestParseDDD(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		err      string
	}{
		{"tcpdump lines", "2\n40 0 0 12\n6 0 0 262144\n", 2, ""},
		{"commas", "2,40 0 0 12,6 0 0 0", 2, ""},
		{"short", "3\n40 0 0 12\n6 0 0 0\n", 0, "says 3 instructions"},
		{"zero count", "0", 0, "bad instruction count"},
		{"too big", "5000", 0, "bad instruction count"},
		{"no return", "1\n40 0 0 12\n", 0, "does not end with a return"},
		{"out of range", "1\n6 0 300 0\n", 0, "instruction 0"},
		{"unknown opcode", "1\n65535 0 0 0\n", 0, "does not know"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := parseDDD(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(prog) != tc.n {
				t.Fatalf("got %d instructions, %v", len(prog), err)
			}
		})
	}
}

func FuzzParseDDD(f *testing.F) {
	f.Add("2\n40 0 0 12\n6 0 0 262144\n")
	f.Add("1,6 0 0 0")
	f.Add("4096")
	f.Fuzz(func(t *testing.T, s string) {
		prog, err := parseDDD(s)
		if err == nil && (len(prog) == 0 || len(prog) > maxBPFInstructions) {
			t.Fatalf("accepted %d instructions", len(prog))
		}
	})
}

// TestCompileFilterTcpdump compiles an expression through tcpdump and runs
// the program on a TCP/25 frame and a UDP/53 frame.
func TestCompileFilterTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed: expression compilation is unavailable (tested: the error path)")
	}
	prog, err := CompileFilter("tcp port 25", layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	insts, _ := bpf.Disassemble(prog)
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	frame := func(proto byte, dport uint16) []byte {
		b := make([]byte, 14+20+20)
		b[12], b[13] = 0x08, 0x00
		ip := b[14:]
		ip[0], ip[9] = 0x45, proto
		ip[2], ip[3] = 0, 40
		tp := b[34:]
		tp[2], tp[3] = byte(dport>>8), byte(dport)
		return b
	}
	if n, _ := vm.Run(frame(6, 25)); n == 0 {
		t.Error("tcp/25 frame rejected")
	}
	if n, _ := vm.Run(frame(17, 53)); n != 0 {
		t.Error("udp/53 frame accepted")
	}
	_, err = CompileFilter("tcp port", layers.LinkTypeEthernet)
	if err == nil || !strings.Contains(err.Error(), `filter "tcp port"`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad expression: %v", err)
	}
}

func TestCompileFilterWithoutTcpdump(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := CompileFilter("tcp port 25", layers.LinkTypeEthernet)
	if err == nil || !strings.Contains(err.Error(), "needs tcpdump") {
		t.Errorf("err = %v, want the needs-tcpdump message", err)
	}
	// A precompiled program needs no tcpdump.
	prog, err := CompileFilter("1\n6 0 0 262144\n", layers.LinkTypeEthernet)
	if err != nil || len(prog) != 1 {
		t.Errorf("precompiled: %v %v", prog, err)
	}
	if prog, err := CompileFilter("  ", layers.LinkTypeEthernet); prog != nil || err != nil {
		t.Errorf("empty filter: %v %v", prog, err)
	}
}

func TestCheckInterfaceErrors(t *testing.T) {
	_, err := CheckInterface("eth9-missing")
	if !errors.Is(err, capture.ErrNoInterface) || err.Error() != "capture on eth9-missing: no such interface" {
		t.Errorf("missing: %v", err)
	}
	if _, err := CheckInterface(""); err == nil {
		t.Error("empty name accepted")
	}
	le := &capture.LiveError{Iface: "eth0", Err: capture.ErrIfaceDown}
	if got := le.Error(); got != "capture on eth0: interface is down (bring it up: ip link set eth0 up)" {
		t.Errorf("down: %q", got)
	}
	le = &capture.LiveError{Iface: "eth0", Err: capture.ErrPermission}
	if got := le.Error(); got != "capture on eth0: needs CAP_NET_RAW (run as root or grant the capability)" {
		t.Errorf("permission: %q", got)
	}
}

func TestLinkTypeForARPHRD(t *testing.T) {
	for _, tc := range []struct {
		t    int
		want layers.LinkType
		ok   bool
	}{{1, layers.LinkTypeEthernet, true}, {772, layers.LinkTypeEthernet, true},
		{65534, layers.LinkTypeRaw, true}, {512, layers.LinkTypeRaw, true}, {801, 0, false}} {
		lt, err := linkTypeForARPHRD("x", tc.t)
		if (err == nil) != tc.ok || lt != tc.want {
			t.Errorf("type %d: %v %v", tc.t, lt, err)
		}
	}
}

func TestInterfaceAddrsLoopback(t *testing.T) {
	addrs, err := InterfaceAddrs("lo")
	if err != nil {
		t.Skipf("no lo interface here: %v", err)
	}
	found := false
	for _, a := range addrs {
		found = found || a.IsLoopback()
	}
	if len(addrs) > 0 && !found {
		t.Errorf("lo addresses %v hold no loopback address", addrs)
	}
	if _, err := InterfaceAddrs("eth9-missing"); !errors.Is(err, capture.ErrNoInterface) {
		t.Errorf("missing: %v", err)
	}
}
