//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

const childEnv = "FLOWAUDIT_EBPF_CHILD" // "netns/iface" for the helper process

// TestHelperEBPFChild is not a test: run by TestPrivilegedSIGKILLDetaches
// in a child process, it starts a capture and waits to be killed.
func TestHelperEBPFChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper process for TestPrivilegedSIGKILLDetaches")
	}
	ns, dev, _ := strings.Cut(spec, "/")
	var l *Source
	var err error
	labtest.InNetns(t, ns, func() {
		l, err = Open(capture.LiveOptions{Iface: dev})
	})
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(1)
	}
	// Report the program IDs, so the parent checks these very programs
	// (other tests may attach their own meanwhile).
	go l.Run(context.Background(), capture.NewEmitter(capture.SinkFuncs{}, capture.Options{}))
	if l.attr == nil {
		os.Stdout.WriteString("error attribution " + l.attribution + "\n")
		os.Exit(1)
	}
	var ids []string
	for _, p := range []*ebpf.Program{l.tc.Ingress, l.tc.Egress, l.attr.Connect4} {
		info, err := p.Info()
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		id, _ := info.ID()
		ids = append(ids, strconv.Itoa(int(id)))
	}
	os.Stdout.WriteString("ready " + strings.Join(ids, " ") + "\n")
	time.Sleep(time.Minute)
	os.Exit(2)
}

// attached lists the program IDs on dev's tcx ingress and egress (in ns)
// and on the cgroup2 root's connect4 hook.
func attached(t *testing.T, ns, dev string) (tcx, cg map[ebpf.ProgramID]bool) {
	t.Helper()
	tcx, cg = map[ebpf.ProgramID]bool{}, map[ebpf.ProgramID]bool{}
	labtest.InNetns(t, ns, func() {
		ifc, err := net.InterfaceByName(dev)
		if err != nil {
			t.Errorf("interface %s: %v", dev, err)
			return
		}
		for _, a := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
			r, err := link.QueryPrograms(link.QueryOptions{Target: ifc.Index, Attach: a})
			if err != nil {
				t.Errorf("query %s: %v", a, err)
				return
			}
			for _, p := range r.Programs {
				tcx[p.ID] = true
			}
		}
	})
	root, err := cgroup2Mount()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupInet4Connect})
	if err != nil {
		t.Fatalf("query cgroup: %v", err)
	}
	for _, p := range r.Programs {
		cg[p.ID] = true
	}
	return tcx, cg
}

// TestPrivilegedSIGKILLDetaches kills a capturing process with SIGKILL and
// checks that its tcx and cgroup attachments went with it.
func TestPrivilegedSIGKILLDetaches(t *testing.T) {
	requireRoot(t)
	p := labtest.NewVethPair(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEBPFChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+p.Client+"/"+p.Dev)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 || f[0] != "ready" {
		t.Fatalf("child: %q %v", line, err)
	}
	var ids [3]ebpf.ProgramID
	for i := range ids {
		n, _ := strconv.Atoi(f[i+1])
		ids[i] = ebpf.ProgramID(n)
	}
	tcx, cg := attached(t, p.Client, p.Dev)
	if !tcx[ids[0]] || !tcx[ids[1]] || !cg[ids[2]] {
		t.Fatalf("while capturing: programs %v not all attached (tcx %v, cgroup %v)", ids, tcx, cg)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Link release is asynchronous (RCU): allow a moment.
	deadline := time.Now().Add(3 * time.Second)
	for {
		tcx, cg = attached(t, p.Client, p.Dev)
		if len(tcx) == 0 && !cg[ids[2]] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGKILL: tcx %v, cgroup program %d still attached: %v", tcx, ids[2], cg[ids[2]])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
