// Package live captures traffic on a network interface as it happens:
// AF_PACKET (a TPACKET_V3 ring, with an optional tcpdump-style filter and
// pcapng copy), or the eBPF backend of capture/ebpf, chosen by Start. It
// also answers the questions a capture asks of the system: whether an
// interface exists and is up, and which addresses it has. The sockets are
// Linux's: elsewhere Supported and the backends say so in one line.
package live

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/ebpf"
)

// ErrUnknownBackend is wrapped by Start's error for a backend it does not
// know.
var ErrUnknownBackend = errors.New("want auto, afpacket or ebpf")

// Start starts a live capture with the backend named: "ebpf", "afpacket",
// or "auto": eBPF (flows aggregated in the kernel: no per-packet copies,
// process attribution) when ebpf.Supported says this kernel and process
// can run it and neither a filter nor a pcap copy (AF_PACKET only) is
// asked for; otherwise AF_PACKET. The returned Live's Backend says which
// one runs.
func Start(ctx context.Context, backend string, opts capture.LiveOptions) (capture.Live, error) {
	switch backend {
	case "auto":
		if opts.Filter == "" && opts.WritePcap == "" && ebpf.Supported() == nil {
			return ebpf.Start(ctx, opts)
		}
		return StartAFPacket(ctx, opts)
	case "afpacket":
		return StartAFPacket(ctx, opts)
	case "ebpf":
		return ebpf.Start(ctx, opts)
	}
	return nil, fmt.Errorf("backend %q: %w", backend, ErrUnknownBackend)
}
