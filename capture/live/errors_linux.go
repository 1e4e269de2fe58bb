package live

import (
	"errors"
	"os"
	"syscall"

	"github.com/flowaudit/flowaudit/capture"
)

// ClassifyOpenErr turns what the kernel said when a packet socket (or an
// eBPF program) was opened or attached on iface into a *LiveError naming
// one of the sentinel errors when it is one.
func ClassifyOpenErr(iface string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return &capture.LiveError{Iface: iface, Err: capture.ErrPermission}
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return &capture.LiveError{Iface: iface, Err: capture.ErrNoInterface}
	case errors.Is(err, syscall.ENETDOWN):
		return &capture.LiveError{Iface: iface, Err: capture.ErrIfaceDown}
	}
	return &capture.LiveError{Iface: iface, Err: err}
}
