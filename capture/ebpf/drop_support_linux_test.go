//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestCheckKfreeSkb(t *testing.T) {
	for _, c := range []struct {
		name   string
		params int
		want   string // "" for no error
	}{
		{"6.12 and later: rx_sk added", 5, ""},
		{"5.17 to 6.11", 4, ""},
		{"before 5.17: no reason", 3, "carries no drop reason"},
		{"no tracepoint", 0, "no skb:kfree_skb tracepoint"},
	} {
		err := checkKfreeSkb(reasonSpec(t, fakeReasons, c.params))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err %v, want it to say %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
		spec, err := btf.LoadKernelSpec()
		if err != nil {
			t.Fatal(err)
		}
		if err := checkKfreeSkb(spec); err != nil {
			t.Errorf("this kernel: %v", err)
		}
	}
}
