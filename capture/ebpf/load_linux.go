//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
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

// flowConfig is the kernel's flow timeouts (bpf/timeout.h, struct
// flow_config), from capture/flow's defaults so that both capture paths
// split flows alike.
var flowConfig = flowFlowConfig{
	TimeoutTcp:   uint64(flow.DefaultTCPTimeout),
	TimeoutUdp:   uint64(flow.DefaultUDPTimeout),
	TimeoutDns:   uint64(flow.DefaultDNSTimeout),
	TimeoutIcmp:  uint64(flow.DefaultICMPTimeout),
	TimeoutOther: uint64(flow.DefaultOtherTimeout),
	CloseDelay:   uint64(flow.DefaultCloseDelay),
	AttemptDelay: uint64(flow.DefaultAttemptDelay),
}

// loadTC loads the TC programs and maps, the flow map sized to maxFlows;
// onAny makes them count each packet once across every interface (egress
// only what this host generated: see flow_egress in bpf/flow.c).
func loadTC(maxFlows int, onAny bool) (*tcObjects, error) {
	spec, err := loadFlow()
	if err != nil {
		return nil, fmt.Errorf("load bpf object: %w", err)
	}
	if maxFlows <= 0 {
		maxFlows = DefaultMaxFlows
	}
	spec.Maps["flows"].MaxEntries = uint32(maxFlows)
	v, ok := spec.Variables[flowVarConfig]
	if !ok {
		return nil, fmt.Errorf("load bpf object: no variable %s", flowVarConfig)
	}
	cfg := flowConfig
	if onAny {
		cfg.AnyIface = 1
	}
	if err := v.Set(cfg); err != nil {
		return nil, fmt.Errorf("set the flow timeouts: %w", err)
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
// nil when they can, otherwise an error saying why not in one line (for
// --backend auto, and for a clear message with --backend ebpf). It probes
// what the backend uses with cilium/ebpf's features package, and tcx links
// by attaching to no interface: nothing stays loaded or attached and no
// limit is changed; the library caches the answers.
//
// RLIMIT_MEMLOCK is never raised: tcx needs Linux 6.6, and since 5.11 the
// kernel charges BPF memory to the memory cgroup, not to that limit.
func Supported() error {
	if err := features.HaveProgramType(ebpf.SchedCLS); err != nil {
		return probeErr("TC programs", err)
	}
	for _, mt := range []ebpf.MapType{ebpf.LRUHash, ebpf.RingBuf, ebpf.PerCPUArray, ebpf.SkStorage} {
		if err := features.HaveMapType(mt); err != nil {
			return probeErr(mt.String()+" maps", err)
		}
	}
	return haveTCX()
}

// haveTCX says whether tcx links work: attaching a trivial TC program to
// an interface index no interface has fails with ENODEV where they do.
func haveTCX() error {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		License:      "Dual BSD/GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()},
	})
	if err != nil {
		return probeErr("TC programs", err)
	}
	defer p.Close()
	l, err := link.AttachTCX(link.TCXOptions{Interface: math.MaxInt32, Program: p, Attach: ebpf.AttachTCXIngress})
	if err == nil {
		return l.Close() // an interface with that index after all
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return probeErr("tcx links (Linux 6.6 or later, and CAP_NET_ADMIN)", err)
	}
	return nil
}

// probeErr words a failed probe of what: missing from the kernel, or not
// allowed to this process.
func probeErr(what string, err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("ebpf backend needs %s, which this kernel lacks: %w", what, err)
	}
	return fmt.Errorf("ebpf backend needs root (or CAP_BPF and CAP_NET_ADMIN): probe %s: %w", what, err)
}
