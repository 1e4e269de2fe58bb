package ebpf

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestDropReasonName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SKB_DROP_REASON_NETFILTER_DROP", "netfilter-drop"},
		{"SKB_DROP_REASON_NEIGH_FAILED", "neigh-failed"},
		{"SKB_DROP_REASON_IP_OUTNOROUTES", "ip-outnoroutes"},
		{"SKB_DROP_REASON_SOCKET_FILTER", "socket-filter"},
		{"SKB_DROP_REASON_TCP_RFC7323_PAWS", "tcp-rfc7323-paws"},
		{"SKB_DROP_REASON_NOT_SPECIFIED", "not-specified"},
		{"SKB_CONSUMED", "consumed"},
		{"SKB_NOT_DROPPED_YET", "not-dropped-yet"},
		{"SKB_DROP_REASON_", "drop-reason-"}, // nothing after the prefix: kept whole
		{"OTHER_NAME", "other-name"},
	} {
		if got := DropReasonName(c.in); got != c.want {
			t.Errorf("DropReasonName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// reasonSpec builds BTF holding an enum skb_drop_reason with the given
// values and, when params > 0, a btf_trace_kfree_skb typedef whose
// function takes that many parameters, the fourth being the enum.
func reasonSpec(t *testing.T, values []btf.EnumValue, params int) *btf.Spec {
	t.Helper()
	var types []btf.Type
	enum := &btf.Enum{Name: "skb_drop_reason", Size: 4, Values: values}
	if values != nil {
		types = append(types, enum)
	}
	if params > 0 {
		ptr := &btf.Pointer{Target: &btf.Void{}}
		skb := &btf.Pointer{Target: &btf.Struct{Name: "sk_buff"}}
		ps := []btf.FuncParam{{Type: ptr}, {Name: "skb", Type: skb}, {Name: "location", Type: ptr}, {Name: "reason", Type: enum},
			{Name: "rx_sk", Type: ptr}}
		fp := &btf.FuncProto{Return: &btf.Void{}, Params: ps[:params]}
		types = append(types, &btf.Typedef{Name: "btf_trace_kfree_skb", Type: &btf.Pointer{Target: fp}})
	}
	types = append(types, &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed})
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// Numbers chosen unlike any kernel's, so that a hard-coded number fails.
var fakeReasons = []btf.EnumValue{
	{Name: "SKB_NOT_DROPPED_YET", Value: 0},
	{Name: "SKB_CONSUMED", Value: 1},
	{Name: "SKB_DROP_REASON_NOT_SPECIFIED", Value: 2},
	{Name: "SKB_DROP_REASON_NEIGH_FAILED", Value: 3},
	{Name: "SKB_DROP_REASON_NETFILTER_DROP", Value: 70},
	{Name: "SKB_DROP_REASON_IP_OUTNOROUTES", Value: 200},
	{Name: "SKB_DROP_REASON_MAX", Value: 201},
	{Name: "SKB_DROP_REASON_SUBSYS_MASK", Value: 0xffff0000},
}

func TestDropReasonsFromBTF(t *testing.T) {
	r, err := DropReasonsFromBTF(reasonSpec(t, fakeReasons, 0))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := r.Number("netfilter-drop"); !ok || n != 70 {
		t.Errorf("Number(netfilter-drop) = %d, %v; want 70", n, ok)
	}
	if got := r.Name(200); got != "ip-outnoroutes" {
		t.Errorf("Name(200) = %q", got)
	}
	if got := r.Name(12); got != "reason-12" {
		t.Errorf("Name(12) = %q, want reason-12 (not in this BTF)", got)
	}
	for _, marker := range []string{"drop-reason-max", "max", "subsys-mask", "drop-reason-subsys-mask"} {
		if _, ok := r.Number(marker); ok {
			t.Errorf("marker %q taken as a reason", marker)
		}
	}
	want := []string{"not-dropped-yet", "consumed", "not-specified", "neigh-failed", "netfilter-drop", "ip-outnoroutes"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}

	words, kept := r.bitmap([]string{"netfilter-drop", "no-such-reason", "neigh-failed", "ip-outnoroutes"})
	if !slices.Equal(kept, []string{"netfilter-drop", "neigh-failed", "ip-outnoroutes"}) {
		t.Errorf("kept %v", kept)
	}
	if words != [4]uint64{1 << 3, 1 << (70 - 64), 0, 1 << (200 - 192)} {
		t.Errorf("bitmap %#x", words)
	}
}

func TestDropReasonsFromBTFMissing(t *testing.T) {
	_, err := DropReasonsFromBTF(reasonSpec(t, nil, 0))
	if !errors.Is(err, errNoReasonEnum) {
		t.Errorf("no enum: err %v, want errNoReasonEnum", err)
	}
	_, err = DropReasonsFromBTF(reasonSpec(t, []btf.EnumValue{{Name: "SKB_DROP_REASON_MAX", Value: 1}}, 0))
	if !errors.Is(err, errNoReasonEnum) {
		t.Errorf("only a marker: err %v, want errNoReasonEnum", err)
	}
}

// TestDropReasonsKernel reads this machine's kernel BTF (no privilege
// needed) when it has one.
func TestDropReasonsKernel(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("no kernel BTF here")
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	r, err := DropReasonsFromBTF(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Number("netfilter-drop"); !ok {
		t.Errorf("kernel BTF names no netfilter-drop; has %v", r.Names())
	}
	for _, name := range DefaultDropReasons {
		if _, ok := r.Number(name); !ok {
			t.Logf("this kernel does not know default reason %q", name)
		}
	}
	if n, _ := r.Number("consumed"); r.Name(n) != "consumed" {
		t.Errorf("round trip of consumed: %d -> %q", n, r.Name(n))
	}
}
