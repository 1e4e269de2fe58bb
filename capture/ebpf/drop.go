package ebpf

import "github.com/flowaudit/flowaudit/capture"

// ErrDropsUnavailable is capture.ErrDropsUnavailable: every error
// StartDropProbe returns wraps it.
var ErrDropsUnavailable = capture.ErrDropsUnavailable

// DefaultMaxDrops is the kernel drop map's size when DropOptions.MaxEntries
// is zero: entries are (flow, direction, reason), 184 bytes of locked
// kernel memory each (1.5 MB for the default; docs/local-drops.md).
const DefaultMaxDrops = 8192

// DropOptions configure StartDropProbe. The zero value watches the calling
// thread's network namespace with the default reasons and map size.
type DropOptions struct {
	// Netns is the network namespace to watch, as the path of its nsfs
	// file (/run/netns/NAME, /proc/PID/ns/net). "" is the calling
	// thread's (/proc/thread-self/ns/net): under `ip netns exec`, the
	// namespace the capture runs in.
	Netns string
	// MaxEntries bounds the kernel map (LRU: when full, the least recently
	// dropped entry makes room) and, four times over, the records user
	// space keeps after the kernel evicted them. 0 is DefaultMaxDrops.
	MaxEntries int
	// Reasons are the reason names to record (DropReasonName form); nil is
	// DefaultDropReasons. Drops for other reasons are only counted.
	Reasons []string
}
