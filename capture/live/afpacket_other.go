//go:build !linux

package live

import (
	"context"
	"errors"

	"github.com/flowaudit/flowaudit/capture"
)

// ErrNeedsLinux is returned by Supported, and wrapped by OpenAFPacket's
// error, on other systems.
var ErrNeedsLinux = errors.New("live capture needs Linux (replay, flows, report and catalog work on any system)")

// Supported says live capture needs Linux.
func Supported() error { return ErrNeedsLinux }

// AFPacket is only available on Linux.
type AFPacket struct{}

// OpenAFPacket is only available on Linux; elsewhere it says so.
func OpenAFPacket(opts capture.LiveOptions) (*AFPacket, error) {
	return nil, &capture.LiveError{Iface: opts.Iface, Err: ErrNeedsLinux}
}

// Run is never reached: OpenAFPacket fails here.
func (*AFPacket) Run(context.Context, *capture.Emitter) (capture.Stats, error) {
	return capture.Stats{}, ErrNeedsLinux
}

// Close does nothing here.
func (*AFPacket) Close() error { return nil }

// MaxFlows is 0 here.
func (*AFPacket) MaxFlows() int { return 0 }
