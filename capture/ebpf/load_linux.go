//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// tcObjects are what the flow backend needs: the TC programs and the maps
// they use. Loaded apart from the attribution hooks, which are optional.
type tcObjects struct {
	Ingress  *ebpf.Program `ebpf:"flow_ingress"`
	Egress   *ebpf.Program `ebpf:"flow_egress"`
	Flows    *ebpf.Map     `ebpf:"flows"`
	Payloads *ebpf.Map     `ebpf:"payloads"`
	Counters *ebpf.Map     `ebpf:"counters"`
	SkProc   *ebpf.Map     `ebpf:"sk_proc"`
}

func (o *tcObjects) Close() {
	for _, c := range []interface{ Close() error }{o.Ingress, o.Egress, o.Flows, o.Payloads, o.Counters, o.SkProc} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// attrObjects are the cgroup socket hooks that record the local process.
type attrObjects struct {
	Connect4 *ebpf.Program `ebpf:"proc_connect4"`
	Connect6 *ebpf.Program `ebpf:"proc_connect6"`
	Sendmsg4 *ebpf.Program `ebpf:"proc_sendmsg4"`
	Sendmsg6 *ebpf.Program `ebpf:"proc_sendmsg6"`
}

func (o *attrObjects) Close() {
	for _, p := range []*ebpf.Program{o.Connect4, o.Connect6, o.Sendmsg4, o.Sendmsg6} {
		if p != nil {
			_ = p.Close()
		}
	}
}

// DefaultMaxFlows is the kernel flow map's size when LiveOptions.MaxFlows
// is zero. The map is an LRU hash: when full, the least recently used flow
// is evicted (see docs/ebpf.md for how evictions are counted).
const DefaultMaxFlows = 1 << 16

// timeouts are the kernel's flow timeouts, from capture/flow's defaults so
// that both capture paths split flows alike.
var timeouts = map[string]time.Duration{
	"timeout_tcp":   flow.DefaultTCPTimeout,
	"timeout_udp":   flow.DefaultUDPTimeout,
	"timeout_dns":   flow.DefaultDNSTimeout,
	"timeout_icmp":  flow.DefaultICMPTimeout,
	"timeout_other": flow.DefaultOtherTimeout,
	"close_delay":   flow.DefaultCloseDelay,
	"attempt_delay": flow.DefaultAttemptDelay,
}

// loadTC loads the TC programs and maps, the flow map sized to maxFlows.
func loadTC(maxFlows int) (*tcObjects, error) {
	spec, err := loadFlow()
	if err != nil {
		return nil, fmt.Errorf("load bpf object: %w", err)
	}
	if maxFlows <= 0 {
		maxFlows = DefaultMaxFlows
	}
	spec.Maps["flows"].MaxEntries = uint32(maxFlows)
	for name, d := range timeouts {
		v, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("load bpf object: no variable %s", name)
		}
		if err := v.Set(uint64(d)); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	var o tcObjects
	if err := spec.LoadAndAssign(&o, nil); err != nil {
		return nil, fmt.Errorf("load tc programs: %w", verifierDetail(err))
	}
	return &o, nil
}

// loadAttr loads the attribution hooks sharing the TC objects' socket
// storage map.
func loadAttr(tc *tcObjects) (*attrObjects, error) {
	spec, err := loadFlow()
	if err != nil {
		return nil, fmt.Errorf("load bpf object: %w", err)
	}
	var o attrObjects
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{"sk_proc": tc.SkProc}}
	if err := spec.LoadAndAssign(&o, opts); err != nil {
		return nil, fmt.Errorf("load cgroup hooks: %w", verifierDetail(err))
	}
	return &o, nil
}

// verifierDetail keeps the end of a verifier log, where the reason is.
func verifierDetail(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		n := max(0, len(ve.Log)-3)
		return fmt.Errorf("%w: %s", err, strings.Join(ve.Log[n:], "; "))
	}
	return err
}

// attachCgroupHooks attaches the attribution hooks to the cgroup2 root.
// The returned links must be kept: closing them (or the process exiting)
// detaches the hooks.
func attachCgroupHooks(o *attrObjects) ([]link.Link, error) {
	root, err := cgroupRoot()
	if err != nil {
		// `ip netns exec` remounts /sys, hiding the cgroup mounts: mount
		// the hierarchy privately for as long as attaching takes (a link
		// holds the cgroup itself, not the mount).
		dir, derr := os.MkdirTemp("", "flowaudit-cgroup2-")
		if derr != nil {
			return nil, fmt.Errorf("%w; and no temporary mount point: %v", err, derr)
		}
		defer os.Remove(dir)
		if merr := unix.Mount("cgroup2", dir, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); merr != nil {
			return nil, fmt.Errorf("%w; and mount cgroup2: %v", err, merr)
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
		root = dir
	}
	var links []link.Link
	for _, h := range []struct {
		p *ebpf.Program
		t ebpf.AttachType
	}{
		{o.Connect4, ebpf.AttachCGroupInet4Connect},
		{o.Connect6, ebpf.AttachCGroupInet6Connect},
		{o.Sendmsg4, ebpf.AttachCGroupUDP4Sendmsg},
		{o.Sendmsg6, ebpf.AttachCGroupUDP6Sendmsg},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: root, Attach: h.t, Program: h.p})
		if err != nil {
			for _, l := range links {
				_ = l.Close()
			}
			return nil, fmt.Errorf("attach %s to cgroup %s: %w", h.t, root, err)
		}
		links = append(links, l)
	}
	return links, nil
}

// cgroupRoot is where the attribution hooks attach (a variable so tests
// can make attaching fail).
var cgroupRoot = cgroup2Mount

// cgroup2Mount finds where the cgroup2 hierarchy is mounted
// (/sys/fs/cgroup on unified systems, /sys/fs/cgroup/unified on hybrid).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "36 25 0:31 / /sys/fs/cgroup rw,... - cgroup2 cgroup2 rw,..."
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fs := strings.Fields(right)
		lf := strings.Fields(left)
		if len(fs) > 0 && fs[0] == "cgroup2" && len(lf) >= 5 {
			return lf[4], nil
		}
	}
	return "", errors.New("find cgroup2 mount: none in /proc/self/mountinfo")
}

// Supported says whether this kernel and process can run the eBPF backend:
// nil when they can, otherwise an error saying why not (for --backend auto
// and for a clear message with --backend ebpf).
func Supported() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("ebpf backend: uname: %w", err)
	}
	if err := checkKernel(unix.ByteSliceToString(u.Release[:])); err != nil {
		return err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("ebpf backend needs root (or CAP_BPF and CAP_NET_ADMIN): %w", err)
	}
	// Load a trivial TC program: fails without CAP_BPF/CAP_NET_ADMIN or
	// when BPF is disabled, with the kernel's reason.
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		License:      "Dual BSD/GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()},
	})
	if err != nil {
		return fmt.Errorf("ebpf backend needs root (or CAP_BPF and CAP_NET_ADMIN): load a TC program: %w", err)
	}
	_ = p.Close()
	return nil
}

// checkKernel accepts kernel releases with tcx links (6.6 and newer).
func checkKernel(release string) error {
	var maj, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &maj, &minor); err != nil {
		return fmt.Errorf("ebpf backend: cannot parse kernel release %q", release)
	}
	if maj < 6 || (maj == 6 && minor < 6) {
		return fmt.Errorf("ebpf backend needs Linux >= 6.6 for tcx links; this kernel is %s", release)
	}
	return nil
}
