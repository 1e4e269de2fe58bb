//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"os"
	"testing"

	"github.com/flowaudit/flowaudit/capture/naming"
)

// BenchmarkMirror measures the user-space work of the eBPF backend on a
// full 60,000-flow map: one poll (batch lookup and merge, done every
// second), and converting every flow as it is delivered (or as a progress
// report lists the open ones). Needs root.
//
//	go test -run '^$' -bench Mirror ./capture/ebpf
func BenchmarkMirror(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (BPF maps)")
	}
	const n = 60000
	o, err := loadTC(1<<16, false)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	keys := make([]flowFlowKey, n)
	vals := make([]flowFlowVal, n)
	for i := range keys {
		keys[i] = keyFor("192.0.2.10", uint16(i), "198.51.100.53", 53, 17)
		keys[i].AddrLo[14] = byte(i >> 8)
		vals[i] = flowFlowVal{FirstNs: 1, LastNs: 2, Pkts: [2]uint64{1, 1}}
	}
	if _, err := o.Flows.BatchUpdate(keys, vals, nil); err != nil {
		b.Fatal(err)
	}
	l := testSource(naming.NewCache(), nil)
	l.tc = o
	if err := l.mirror.refresh(o.Flows, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("refresh", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := l.mirror.refresh(o.Flows, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("convert", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m := 0
			for k := range l.mirror.active {
				f := l.flowOf(k, endStopped)
				l.e.Flow(&f)
				m++
			}
			if m != n {
				b.Fatalf("%d flows, want %d", m, n)
			}
		}
	})
}
