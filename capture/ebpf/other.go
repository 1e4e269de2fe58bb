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

// Start always fails here: the eBPF backend needs Linux.
func Start(context.Context, capture.LiveOptions) (capture.Live, error) {
	return nil, errUnsupported
}
