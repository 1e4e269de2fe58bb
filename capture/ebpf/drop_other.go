//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) || !linux

package ebpf

import (
	"fmt"

	"github.com/flowaudit/flowaudit/capture"
)

// DropProbe is never running here: the drop probe needs Linux.
type DropProbe struct{}

// StartDropProbe always fails here, with an error wrapping
// ErrDropsUnavailable.
func StartDropProbe(DropOptions) (*DropProbe, error) {
	return nil, fmt.Errorf("%w: %v", ErrDropsUnavailable, errUnsupported)
}

// Reasons returns nil: nothing is recorded here.
func (*DropProbe) Reasons() []string { return nil }

// Attribution says that nothing is attributed here.
func (*DropProbe) Attribution() string { return "unavailable: " + errUnsupported.Error() }

// Drops returns nothing here.
func (*DropProbe) Drops() ([]capture.LocalDrop, error) { return nil, errUnsupported }

// Stats returns nothing here.
func (*DropProbe) Stats() (capture.LocalDropStats, error) {
	return capture.LocalDropStats{}, errUnsupported
}

// Close does nothing here.
func (*DropProbe) Close() error { return nil }
