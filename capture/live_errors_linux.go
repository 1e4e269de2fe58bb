package capture

import (
	"errors"
	"os"
	"syscall"
)

// ClassifyOpenErr turns what the kernel said when a packet socket (or an
// eBPF program) was opened or attached on iface into a *LiveError naming
// one of the sentinel errors when it is one.
func ClassifyOpenErr(iface string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return &LiveError{Iface: iface, Err: ErrPermission}
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return &LiveError{Iface: iface, Err: ErrNoInterface}
	case errors.Is(err, syscall.ENETDOWN):
		return &LiveError{Iface: iface, Err: ErrIfaceDown}
	}
	return &LiveError{Iface: iface, Err: err}
}
