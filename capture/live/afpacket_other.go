//go:build !linux

package live

import (
	"context"
	"errors"

	"github.com/flowaudit/flowaudit/capture"
)

// ErrNeedsLinux is returned by Supported, and wrapped by StartAFPacket's
// error, on other systems.
var ErrNeedsLinux = errors.New("live capture needs Linux (replay, flows, report and catalog work on any system)")

// Supported says live capture needs Linux.
func Supported() error { return ErrNeedsLinux }

// StartAFPacket is only available on Linux; elsewhere it says so.
func StartAFPacket(ctx context.Context, opts capture.LiveOptions) (capture.Live, error) {
	return nil, &capture.LiveError{Iface: opts.Iface, Err: ErrNeedsLinux}
}
