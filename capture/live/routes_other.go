//go:build !linux

package live

import "net/netip"

// LookupRoutes needs Linux's netlink; elsewhere it says so.
func LookupRoutes([]netip.Addr) ([]Route, error) { return nil, ErrNeedsLinux }
