//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
)

// checkKfreeSkb checks, in the kernel's BTF, that skb:kfree_skb can be
// attached as tp_btf and carries the drop reason as its third argument
// (Linux 5.17 and later). Reading BTF has no side effect and needs no
// privilege.
func checkKfreeSkb(spec *btf.Spec) error {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_kfree_skb", &td); err != nil {
		return fmt.Errorf("kernel BTF has no skb:kfree_skb tracepoint: %v", err)
	}
	ptr, ok := btf.UnderlyingType(td.Type).(*btf.Pointer)
	if !ok {
		return errors.New("kernel BTF: btf_trace_kfree_skb is not a function pointer")
	}
	fp, ok := btf.UnderlyingType(ptr.Target).(*btf.FuncProto)
	if !ok {
		return errors.New("kernel BTF: btf_trace_kfree_skb is not a function pointer")
	}
	// (void *__data, struct sk_buff *skb, void *location, enum skb_drop_reason reason, ...)
	if len(fp.Params) < 4 {
		return errors.New("skb:kfree_skb carries no drop reason on this kernel (Linux 5.17 or later needed)")
	}
	if e, ok := btf.UnderlyingType(fp.Params[3].Type).(*btf.Enum); !ok || e.Name != "skb_drop_reason" {
		return errors.New("skb:kfree_skb's third argument is not enum skb_drop_reason on this kernel")
	}
	return nil
}

// haveDropFeatures probes the map types the drop probe uses, with
// cilium/ebpf's features package (cached, no lasting side effect). The
// program type is not probed there: features.HaveProgramType(ebpf.Tracing)
// tries an fentry program, which some kernels refuse (EPERM, as on the
// project's lab machines) while tp_btf works; loading the probe itself
// says whether it can run.
func haveDropFeatures() error {
	for _, mt := range []ebpf.MapType{ebpf.LRUHash, ebpf.PerCPUArray, ebpf.SkStorage} {
		if err := features.HaveMapType(mt); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("kernel lacks %s maps: %v", mt, err)
			}
			return fmt.Errorf("probe %s maps: %w", mt, err)
		}
	}
	return nil
}
