//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64) || !linux

package ebpf

import (
	"context"
	"errors"

	"github.com/flowaudit/flowaudit/capture"
)

var errUnsupported = errors.New("ebpf backend needs Linux on a little-endian CPU")

// Supported always fails here: the eBPF backend needs Linux.
func Supported() error { return errUnsupported }

// Source is never running here: the eBPF backend needs Linux.
type Source struct{}

// Open always fails here: the eBPF backend needs Linux.
func Open(capture.LiveOptions) (*Source, error) { return nil, errUnsupported }

// Run is never reached: Open fails here.
func (*Source) Run(context.Context, *capture.Emitter) (capture.Stats, error) {
	return capture.Stats{}, errUnsupported
}

// Close does nothing here.
func (*Source) Close() error { return nil }

// MaxFlows is 0 here.
func (*Source) MaxFlows() int { return 0 }
