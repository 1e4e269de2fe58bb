package netif

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
)

// State returns nil while interface name exists and is up, else
// capture.ErrNoInterface or capture.ErrIfaceDown, asking through ctl (a
// datagram socket opened in the capture's network namespace, so the answer
// is that namespace's whatever thread asks). Errors it cannot interpret
// count as "still there": a capture is not ended on a guess.
func State(ctl int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil
	}
	if err := unix.IoctlIfreq(ctl, unix.SIOCGIFFLAGS, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return capture.ErrNoInterface
		}
		return nil
	}
	if ifr.Uint16()&unix.IFF_UP == 0 {
		return capture.ErrIfaceDown
	}
	return nil
}
