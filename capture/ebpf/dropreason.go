package ebpf

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// DefaultDropReasons are the drop reasons the probe records when
// DropOptions.Reasons is nil: the ones that mean this host's own policy,
// routing or neighbour resolution stopped a packet, which is what a
// requirement blocked "here" needs. Left out on purpose: "not-specified"
// (plain kfree_skb() calls, many of them not drops of interest), "no-socket"
// (a closed port: the host answers with a reset or port unreachable that
// the capture sees), and buffer, checksum and protocol-state reasons (load
// or damaged packets, not configuration). Names a kernel does not know are
// ignored (DropProbe.Reasons lists those in effect).
var DefaultDropReasons = []string{
	"netfilter-drop",    // nftables / iptables drop or reject
	"ip-outnoroutes",    // no route for an outgoing packet
	"ip-innoroutes",     // no route for a received packet
	"ip-rpfilter",       // reverse path filter
	"neigh-createfail",  // neighbour (ARP/ND) entry could not be made
	"neigh-failed",      // neighbour resolution failed
	"neigh-queuefull",   // too many packets waiting for resolution
	"neigh-dead",        // neighbour entry removed
	"socket-filter",     // a socket's BPF filter
	"bpf-cgroup-egress", // a cgroup BPF egress program
	"tc-egress",         // a tc egress classifier or action
	"tc-ingress",        // a tc ingress classifier or action
	"xdp",               // an XDP program
	"xfrm-policy",       // IPsec policy
	"security-hook",     // an LSM
	"ipv6disabled",      // IPv6 switched off on the device
}

// dropReasonPrefixes are stripped from the enum's names, the longest first.
var dropReasonPrefixes = []string{"SKB_DROP_REASON_", "SKB_"}

// DropReasonName turns an enum skb_drop_reason name into the stable name
// flowaudit uses: without its prefix, lower-case, '_' as '-'
// (SKB_DROP_REASON_NETFILTER_DROP -> "netfilter-drop", SKB_CONSUMED ->
// "consumed").
func DropReasonName(enumName string) string {
	for _, p := range dropReasonPrefixes {
		if rest, ok := strings.CutPrefix(enumName, p); ok && rest != "" {
			enumName = rest
			break
		}
	}
	return strings.ReplaceAll(strings.ToLower(enumName), "_", "-")
}

// DropReasons maps a kernel's drop reason numbers to names and back. The
// numbers differ between kernel versions, so they are only ever read from
// the running kernel's BTF. Immutable once built; safe for concurrent use.
type DropReasons struct {
	byNum  map[uint32]string
	byName map[string]uint32
}

// errNoReasonEnum: the BTF describes no enum skb_drop_reason.
var errNoReasonEnum = errors.New("kernel BTF has no enum skb_drop_reason")

// DropReasonsFromBTF reads enum skb_drop_reason from spec (the kernel's
// BTF, btf.LoadKernelSpec). Markers that are not reasons (..._MAX, the
// subsystem mask) are left out.
func DropReasonsFromBTF(spec *btf.Spec) (*DropReasons, error) {
	var e *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoReasonEnum, err)
	}
	r := &DropReasons{byNum: map[uint32]string{}, byName: map[string]uint32{}}
	for _, v := range e.Values {
		if strings.HasSuffix(v.Name, "_MAX") || strings.HasSuffix(v.Name, "_MASK") || v.Value > 0xffff {
			continue
		}
		n := DropReasonName(v.Name)
		if _, dup := r.byName[n]; dup {
			continue
		}
		r.byNum[uint32(v.Value)] = n
		r.byName[n] = uint32(v.Value)
	}
	if len(r.byName) == 0 {
		return nil, fmt.Errorf("%w: it is empty", errNoReasonEnum)
	}
	return r, nil
}

// Name returns the name of reason number n, or "reason-N" for a number
// this kernel's BTF does not name.
func (r *DropReasons) Name(n uint32) string {
	if s, ok := r.byNum[n]; ok {
		return s
	}
	return "reason-" + strconv.FormatUint(uint64(n), 10)
}

// Number returns the kernel's number for a reason name.
func (r *DropReasons) Number(name string) (uint32, bool) {
	n, ok := r.byName[name]
	return n, ok
}

// Names lists every reason name, in the kernel's order.
func (r *DropReasons) Names() []string {
	nums := make([]uint32, 0, len(r.byNum))
	for n := range r.byNum {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = r.byNum[n]
	}
	return out
}

// bitmap returns the probe's keep_reasons words for names: one bit per
// reason number below 256 (DROP_REASON_SLOTS; every reason is, today). It
// also returns the names set, in the order given; names this kernel does
// not know, or numbered 256 and above, are left out.
func (r *DropReasons) bitmap(names []string) (words [4]uint64, known []string) {
	for _, name := range names {
		n, ok := r.byName[name]
		if !ok || n >= uint32(64*len(words)) {
			continue
		}
		words[n/64] |= 1 << (n % 64)
		known = append(known, name)
	}
	return words, known
}
