//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
)

// DropProbe is a running local drop probe: a tp_btf program on
// skb:kfree_skb recording one network namespace's drops. Its methods are
// safe for concurrent use. Close detaches it.
type DropProbe struct {
	objs        dropprobeObjects
	links       []link.Link // kept: a link dropped to the GC detaches
	netns       *os.File    // held open so its inode number stays unique
	reasons     *DropReasons
	kept        []string
	attribution string
	clock       clock
	maxEntries  int

	mu  sync.Mutex
	tbl *dropTable
}

// kernelSpec loads the running kernel's BTF (a variable so tests can give
// a spec without the drop reasons).
var kernelSpec = btf.LoadKernelSpec

// unavailable wraps ErrDropsUnavailable with a one-line reason.
func unavailable(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrDropsUnavailable, fmt.Sprintf(format, a...))
}

// StartDropProbe loads the drop probe, attaches it to the skb:kfree_skb
// tracepoint and the process hooks to the cgroup2 root, and starts
// recording the drops of opts.Netns. When the kernel lacks BTF or the
// tracepoint, or the process the privileges (CAP_BPF and CAP_PERFMON, or
// root), the error wraps ErrDropsUnavailable and says why in one line; so
// does every other error it returns. Process attribution is best effort:
// Attribution says whether its hooks are attached.
func StartDropProbe(opts DropOptions) (*DropProbe, error) {
	ns, ino, err := openNetns(opts.Netns)
	if err != nil {
		return nil, unavailable("%v", err)
	}
	p := &DropProbe{netns: ns, clock: bootClock(), maxEntries: opts.MaxEntries}
	if p.maxEntries <= 0 {
		p.maxEntries = DefaultMaxDrops
	}
	p.tbl = newDropTable(4 * p.maxEntries)
	if err := p.load(ino, opts.Reasons); err != nil {
		p.Close()
		return nil, err
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: p.objs.DropKfreeSkb})
	if err != nil {
		p.Close()
		return nil, unavailable("attach tp_btf/kfree_skb: %v", err)
	}
	p.links = append(p.links, l)
	hooks, err := attachCgroupHooks(&attrObjects{Connect4: p.objs.ProcConnect4, Connect6: p.objs.ProcConnect6,
		Sendmsg4: p.objs.ProcSendmsg4, Sendmsg6: p.objs.ProcSendmsg6})
	if err != nil {
		p.attribution = "unavailable: " + err.Error()
	} else {
		p.links = append(p.links, hooks...)
		p.attribution = AttributionOK
	}
	return p, nil
}

// openNetns opens a network namespace's nsfs file and returns its inode
// number, which the kernel calls the namespace's inum.
func openNetns(path string) (*os.File, uint32, error) {
	if path == "" {
		path = "/proc/thread-self/ns/net"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open network namespace: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a namespace file (nsfs)", path)
	}
	return f, uint32(st.Ino), nil
}

// load checks the kernel, then loads the programs and maps.
func (p *DropProbe) load(ino uint32, names []string) error {
	kspec, err := kernelSpec()
	if err != nil {
		return unavailable("no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF): %v", err)
	}
	if err := checkKfreeSkb(kspec); err != nil {
		return unavailable("%v", err)
	}
	if p.reasons, err = DropReasonsFromBTF(kspec); err != nil {
		return unavailable("%v", err)
	}
	if names == nil {
		names = DefaultDropReasons
	}
	words, kept := p.reasons.bitmap(names)
	if len(kept) == 0 {
		return unavailable("this kernel names none of the drop reasons asked for (%v)", names)
	}
	p.kept = kept
	if err := haveDropFeatures(); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return unavailable("needs root (or CAP_BPF and CAP_PERFMON): %v", err)
		}
		return unavailable("%v", err)
	}
	spec, err := loadDropprobe()
	if err != nil {
		return unavailable("load bpf object: %v", err)
	}
	spec.Maps["drops"].MaxEntries = uint32(p.maxEntries)
	if err := spec.Variables["netns_ino"].Set(ino); err != nil {
		return unavailable("set netns_ino: %v", err)
	}
	if err := spec.Variables["keep_reasons"].Set(words); err != nil {
		return unavailable("set keep_reasons: %v", err)
	}
	opts := &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kspec}}
	if err := spec.LoadAndAssign(&p.objs, opts); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return unavailable("needs root (or CAP_BPF and CAP_PERFMON): load drop probe: %v", err)
		}
		return unavailable("load drop probe: %v", verifierDetail(err))
	}
	return nil
}

// Reasons lists the reason names being recorded (those of
// DropOptions.Reasons this kernel knows), in the order asked.
func (p *DropProbe) Reasons() []string { return append([]string(nil), p.kept...) }

// Attribution says whether drops name their process: AttributionOK when
// the cgroup hooks are attached, otherwise "unavailable: <why>" (drops of
// TCP sockets may still name it, see docs/local-drops.md).
func (p *DropProbe) Attribution() string { return p.attribution }

// Drops reads the kernel map and returns every record gathered since the
// start, in no particular order; records the kernel has since evicted come
// as last read, with Evicted set. Call it at least every few seconds when
// drops are many, so that few entries are evicted unread.
func (p *DropProbe) Drops() ([]capture.LocalDrop, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.tbl.refresh(p.objs.Drops); err != nil {
		return p.tbl.records(p.reasons, p.clock), fmt.Errorf("read drop map: %w", err)
	}
	return p.tbl.records(p.reasons, p.clock), nil
}

// Stats returns the probe's counters, summed over CPUs. Evicted is as of
// the last Drops call.
func (p *DropProbe) Stats() (capture.LocalDropStats, error) {
	var st capture.LocalDropStats
	var per []uint64
	var c [dropprobeDropCounterDCNT_MAX]uint64
	for i := range c {
		if err := p.objs.DropCounters.Lookup(uint32(i), &per); err != nil {
			return st, fmt.Errorf("read drop counter %d: %w", i, err)
		}
		for _, v := range per {
			c[i] += v
		}
	}
	st.Recorded = c[dropprobeDropCounterDCNT_RECORDED]
	st.MapFull = c[dropprobeDropCounterDCNT_MAP_FULL]
	st.Truncated = c[dropprobeDropCounterDCNT_TRUNCATED]
	st.NotIP = c[dropprobeDropCounterDCNT_NOT_IP]
	p.mu.Lock()
	if created := c[dropprobeDropCounterDCNT_CREATED]; created > uint64(p.tbl.live) {
		st.Evicted = created - uint64(p.tbl.live)
	}
	st.Forgotten = p.tbl.forgotten
	p.mu.Unlock()
	for i := uint32(0); i < dropReasonSlots; i++ {
		if err := p.objs.ReasonCounts.Lookup(i, &per); err != nil {
			return st, fmt.Errorf("read drop reason count %d: %w", i, err)
		}
		var n uint64
		for _, v := range per {
			n += v
		}
		if n > 0 {
			if st.ByReason == nil {
				st.ByReason = map[string]uint64{}
			}
			st.ByReason[p.reasons.Name(i)] += n
		}
	}
	return st, nil
}

// dropReasonSlots is DROP_REASON_SLOTS (bpf/drop.h).
const dropReasonSlots = 256

// Close detaches the probe and frees its maps. It may be called more than
// once; Drops and Stats fail after it.
func (p *DropProbe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		_ = l.Close()
	}
	p.links = nil
	_ = p.objs.Close()
	if p.netns != nil {
		_ = p.netns.Close()
		p.netns = nil
	}
	return nil
}
