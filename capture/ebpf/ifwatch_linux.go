//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/netif"
)

// ifWatch tells whether the captured interface is still there and up.
// tcx programs stay attached to a device that is set down and see nothing
// more, so without this the capture would run on, silently empty.
type ifWatch struct {
	name  string
	index int
	// ctl is an AF_INET socket opened by Start, so its ioctls ask in the
	// network namespace the programs were attached in, whatever thread
	// the poller runs on; -1 when it could not be opened.
	ctl int
}

// newIfWatch opens the control socket in the calling thread's namespace.
func newIfWatch(name string, index int) *ifWatch {
	w := &ifWatch{name: name, index: index}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	w.ctl = fd
	return w
}

// state returns nil while the interface exists and is up, else
// capture.ErrNoInterface or capture.ErrIfaceDown. It asks by index, so a
// renamed interface is still the one captured, and a new device given the
// old name is not. Errors it cannot interpret count as "still there": a
// capture is not ended on a guess.
func (w *ifWatch) state() error {
	if w.ctl < 0 {
		return nil
	}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return nil
	}
	ifr.SetUint32(uint32(w.index))
	if err := unix.IoctlIfreq(w.ctl, unix.SIOCGIFNAME, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return capture.ErrNoInterface
		}
		return nil
	}
	return netif.State(w.ctl, ifr.Name())
}

// close releases the control socket.
func (w *ifWatch) close() {
	if w.ctl >= 0 {
		_ = unix.Close(w.ctl)
		w.ctl = -1
	}
}

// stoppedErr is how a capture that ended by itself reports why, worded as
// the AF_PACKET backend words it: "capture on eth0 stopped: interface is
// down". errors.Is matches capture.ErrIfaceDown / capture.ErrNoInterface.
func stoppedErr(iface string, why error) error {
	return fmt.Errorf("capture on %s stopped: %w", iface, why)
}
