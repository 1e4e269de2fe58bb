package live

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
)

// AnyIface is Linux's pseudo-interface for every interface at once
// (AF_PACKET backend only): frames are cooked into LINUX_SLL2, and a packet
// seen on several interfaces counts once (docs/live.md).
const AnyIface = "any"

// CheckInterface finds iface and makes sure it is up, so the capture
// command fails with one clear line before opening anything. AnyIface is
// always there (index 0).
func CheckInterface(iface string) (*net.Interface, error) {
	if iface == "" {
		return nil, errors.New("capture: no interface given (--iface)")
	}
	if iface == AnyIface {
		return &net.Interface{Name: AnyIface, Flags: net.FlagUp}, nil
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, &capture.LiveError{Iface: iface, Err: capture.ErrNoInterface}
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, &capture.LiveError{Iface: iface, Err: capture.ErrIfaceDown}
	}
	return ifi, nil
}

// InterfaceAddrs returns the addresses configured on iface (IPv4 and IPv6,
// link-local included): by default the gateway's own addresses, which
// decide a flow's direction. For AnyIface, those of every interface but
// loopback addresses.
func InterfaceAddrs(iface string) ([]netip.Addr, error) {
	var addrs []net.Addr
	if iface == AnyIface {
		all, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of the interfaces: %w", err)
		}
		addrs = all
	} else {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, &capture.LiveError{Iface: iface, Err: capture.ErrNoInterface}
		}
		if addrs, err = ifi.Addrs(); err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", iface, err)
		}
	}
	var out []netip.Addr
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		}
		if na, ok := netip.AddrFromSlice(ip); ok && !(iface == AnyIface && na.Unmap().IsLoopback()) {
			out = append(out, na.Unmap())
		}
	}
	return out, nil
}

// ARPHRD values (linux/if_arp.h) the live backends know how to frame.
const (
	arphrdEther    = 1
	arphrdPPP      = 512
	arphrdLoopback = 772
	arphrdSIT      = 776
	arphrdNone     = 65534 // tun devices: raw IP
)

// ifaceLinkType says how frames captured on iface start, from the
// hardware type Linux reports in /sys/class/net/IFACE/type.
func ifaceLinkType(iface string) (layers.LinkType, error) {
	if iface == AnyIface {
		return layers.LinkTypeLinuxSLL2, nil
	}
	b, err := os.ReadFile("/sys/class/net/" + iface + "/type")
	if err != nil {
		// Without sysfs, assume the common case.
		return layers.LinkTypeEthernet, nil
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return layers.LinkTypeEthernet, nil
	}
	return linkTypeForARPHRD(iface, t)
}

func linkTypeForARPHRD(iface string, t int) (layers.LinkType, error) {
	switch t {
	case arphrdEther, arphrdLoopback:
		return layers.LinkTypeEthernet, nil
	case arphrdNone, arphrdPPP, arphrdSIT:
		return layers.LinkTypeRaw, nil
	}
	return 0, &capture.LiveError{Iface: iface, Err: fmt.Errorf("unsupported hardware type %d (Ethernet, loopback, tun, PPP and sit are)", t)}
}
