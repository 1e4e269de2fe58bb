//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/flowaudit/flowaudit/capture"
)

// TestPrivilegedDropProbeNoHooks: without the cgroup hooks, an output
// drop in connect() still names its process (the current task holds the
// socket's lock there), a UDP send does not, and the probe says why.
func TestPrivilegedDropProbeNoHooks(t *testing.T) {
	requireRoot(t)
	saved := cgroupRoot
	cgroupRoot = func() (string, error) { return t.TempDir(), nil } // not a cgroup
	t.Cleanup(func() { cgroupRoot = saved })
	l := newDropLab(t, 30)
	p, err := StartDropProbe(DropOptions{Netns: "/run/netns/" + l.gw})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasPrefix(p.Attribution(), "unavailable: attach") {
		t.Errorf("attribution %q, want unavailable: attach ...", p.Attribution())
	}
	runs := l.drive(t)
	ds, err := p.Drops()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := findDrop(ds, 6, razorV4+":2703", capture.DropOutput); !ok || d.Process == nil ||
		d.Process.Comm != "socat" || int(d.Process.PID) != runs["tcp4"].pid {
		t.Errorf("TCP drop in connect(): %+v, want socat pid %d", d, runs["tcp4"].pid)
	}
	if d, ok := findDrop(ds, 17, razorV4+":6277", capture.DropOutput); !ok || d.Process != nil || d.CgroupID == 0 {
		t.Errorf("UDP drop without hooks: %+v, want a record with a cgroup and no process", d)
	}
}

// TestPrivilegedDropProbeUnavailable makes the kernel checks fail with
// BTF that lacks what the probe needs: each error wraps
// ErrDropsUnavailable and says why in one line.
func TestPrivilegedDropProbeUnavailable(t *testing.T) {
	requireRoot(t)
	saved := kernelSpec
	t.Cleanup(func() { kernelSpec = saved })
	for _, c := range []struct {
		name    string
		spec    func() (*btf.Spec, error)
		reasons []string
		want    string
	}{
		{"no BTF", func() (*btf.Spec, error) { return nil, errors.New("open /sys/kernel/btf/vmlinux: no such file") },
			nil, "no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF): open"},
		{"no tracepoint", func() (*btf.Spec, error) { return reasonSpec(t, fakeReasons, 0), nil },
			nil, "kernel BTF has no skb:kfree_skb tracepoint"},
		{"no reason argument", func() (*btf.Spec, error) { return reasonSpec(t, fakeReasons, 3), nil },
			nil, "carries no drop reason on this kernel (Linux 5.17 or later needed)"},
		{"empty enum", func() (*btf.Spec, error) { return reasonSpec(t, nil, 4), nil },
			nil, "kernel BTF has no enum skb_drop_reason: it is empty"},
		{"no known reason", saved, []string{"no-such-reason"}, "this kernel names none of the drop reasons asked for"},
	} {
		kernelSpec = c.spec
		p, err := StartDropProbe(DropOptions{Reasons: c.reasons})
		if err == nil {
			p.Close()
			t.Errorf("%s: started", c.name)
			continue
		}
		if !errors.Is(err, ErrDropsUnavailable) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q, want one line wrapping ErrDropsUnavailable with %q", c.name, err, c.want)
		}
	}
	kernelSpec = saved
	if _, err := StartDropProbe(DropOptions{Netns: "/run/netns/fa-no-such-namespace"}); !errors.Is(err, ErrDropsUnavailable) ||
		!strings.Contains(err.Error(), "open network namespace") {
		t.Errorf("missing namespace: %v", err)
	}
	if _, err := StartDropProbe(DropOptions{Netns: "/etc/hostname"}); !errors.Is(err, ErrDropsUnavailable) ||
		!strings.Contains(err.Error(), "is not a namespace file") {
		t.Errorf("not a namespace: %v", err)
	}
}

const dropChildEnv = "FLOWAUDIT_DROP_CHILD"

// TestHelperDropChild is not a test: run by
// TestPrivilegedDropProbeNoCapability in a child process without the BPF
// capabilities, it tries to start the probe and prints what happened.
func TestHelperDropChild(t *testing.T) {
	if os.Getenv(dropChildEnv) == "" {
		t.Skip("helper process for TestPrivilegedDropProbeNoCapability")
	}
	p, err := StartDropProbe(DropOptions{})
	switch {
	case err == nil:
		p.Close()
		os.Stdout.WriteString("started\n")
	case errors.Is(err, ErrDropsUnavailable):
		os.Stdout.WriteString("unavailable " + err.Error() + "\n")
	default:
		os.Stdout.WriteString("other " + err.Error() + "\n")
	}
	os.Exit(0)
}

// TestPrivilegedDropProbeNoCapability starts the probe in root processes
// that lost some capabilities (setpriv, from util-linux): the error says
// what is missing, whichever step fails first.
func TestPrivilegedDropProbeNoCapability(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("need setpriv (util-linux): %v", err)
	}
	for _, drop := range []string{
		"-bpf,-perfmon,-sys_admin", // fails creating maps
		"-perfmon,-sys_admin",      // CAP_BPF alone: fails loading the tracing program
	} {
		cmd := exec.Command("setpriv", "--inh-caps=-all", "--bounding-set="+drop,
			os.Args[0], "-test.run=^TestHelperDropChild$")
		cmd.Env = append(os.Environ(), dropChildEnv+"=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
		line, _ := bufio.NewReader(strings.NewReader(string(out))).ReadString('\n')
		t.Logf("without %s: %s", drop, line)
		if !strings.HasPrefix(line, "unavailable local drops not visible: needs root (or CAP_BPF and CAP_PERFMON)") {
			t.Errorf("child without %s: %q", drop, line)
		}
	}
}
