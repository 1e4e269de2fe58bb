package capture

// The live capture's vocabulary is here rather than in capture/live so
// that both backends (capture/live's AF_PACKET, capture/ebpf) and the
// capture command share it without capture/ebpf importing capture/live.
// A live capture is a Source like any other (capture/live.Open).

import (
	"errors"
	"fmt"
)

// LiveOptions configures a live capture, whichever backend runs it.
type LiveOptions struct {
	Iface string
	// WritePcap, when set, keeps the raw packets in this pcapng file
	// (written to a temporary name and renamed when the capture stops).
	WritePcap string
	// Filter is a tcpdump-style capture filter (AF_PACKET backend only).
	Filter string
	// MaxFlows bounds the flow table (0: the default).
	MaxFlows int
}

// Errors a live capture returns when it cannot start, wrapped with the
// interface name so the message reads as one line:
// "capture on eth9: no such interface".
var (
	ErrNoInterface = errors.New("no such interface")
	ErrIfaceDown   = errors.New("interface is down")
	// ErrPermission: opening a packet socket needs CAP_NET_RAW.
	ErrPermission = errors.New("needs CAP_NET_RAW (run as root or grant the capability)")
)

// LiveError is why a live capture on Iface failed; errors.Is matches the
// sentinel errors above through it.
type LiveError struct {
	Iface string
	Err   error
}

func (e *LiveError) Error() string {
	if errors.Is(e.Err, ErrIfaceDown) {
		return fmt.Sprintf("capture on %s: %v (bring it up: ip link set %s up)", e.Iface, e.Err, e.Iface)
	}
	return fmt.Sprintf("capture on %s: %v", e.Iface, e.Err)
}

func (e *LiveError) Unwrap() error { return e.Err }
