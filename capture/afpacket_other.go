//go:build !linux

package capture

import (
	"context"
	"errors"
)

// ErrNeedsLinux is returned by StartAFPacket on other systems.
var ErrNeedsLinux = errors.New("AF_PACKET capture needs Linux")

// StartAFPacket is only available on Linux; elsewhere it says so.
func StartAFPacket(ctx context.Context, opts LiveOptions) (Live, error) {
	return nil, &LiveError{Iface: opts.Iface, Err: ErrNeedsLinux}
}
