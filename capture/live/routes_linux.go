package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The route messages are parsed with the standard library's syscall
// netlink helpers (x/sys/unix has the constants and structs, not those).

// LookupRoutes asks the kernel, over netlink and read only, for the
// route it would use to each of dsts (RTM_GETROUTE, as "ip route get"
// does: policy rules included) and for the main table's default routes,
// IPv4 and IPv6. A destination the kernel has no route to is left out.
// Interfaces are named as this process's network namespace names them.
func LookupRoutes(dsts []netip.Addr) ([]Route, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("look up routes: netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("look up routes: bind netlink socket: %w", err)
	}
	out, err := defaultRoutes()
	if err != nil {
		return nil, err
	}
	for i, d := range dsts {
		r, err := routeGet(fd, d.Unmap(), uint32(i+1))
		if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EHOSTUNREACH) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("look up the route to %s: %w", d, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// routeGet asks for the route to dst.
func routeGet(fd int, dst netip.Addr, seq uint32) (Route, error) {
	fam, bits := unix.AF_INET, 32
	if dst.Is6() {
		fam, bits = unix.AF_INET6, 128
	}
	addr := dst.AsSlice()
	attrLen := unix.SizeofRtAttr + len(addr)
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofRtMsg+attrLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:4], uint32(len(req)))
	ne.PutUint16(req[4:6], unix.RTM_GETROUTE)
	ne.PutUint16(req[6:8], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:12], seq)
	rtm := req[unix.SizeofNlMsghdr:]
	rtm[0], rtm[1] = byte(fam), byte(bits) // family, dst_len
	attr := rtm[unix.SizeofRtMsg:]
	ne.PutUint16(attr[0:2], uint16(attrLen))
	ne.PutUint16(attr[2:4], unix.RTA_DST)
	copy(attr[unix.SizeofRtAttr:], addr)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return Route{}, err
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return Route{}, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return Route{}, err
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(ne.Uint32(m.Data[0:4])); e < 0 {
						return Route{}, unix.Errno(-e)
					}
				}
				return Route{}, errors.New("netlink: empty answer")
			case unix.RTM_NEWROUTE:
				r, _ := parseRoute(m)
				r.Dst = netip.PrefixFrom(dst, bits)
				return r, nil
			}
		}
	}
}

// defaultRoutes reads the main table's default routes (a dump of the
// routing table, as "ip route show default" reads it).
func defaultRoutes() ([]Route, error) {
	rib, err := syscall.NetlinkRIB(unix.RTM_GETROUTE, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("look up routes: read the routing table: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("look up routes: read the routing table: %w", err)
	}
	var out []Route
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
			continue
		}
		rtm := (*unix.RtMsg)(unsafe.Pointer(&m.Data[0]))
		if rtm.Dst_len != 0 || rtm.Table != unix.RT_TABLE_MAIN || rtm.Type != unix.RTN_UNICAST {
			continue
		}
		r, ok := parseRoute(m)
		if !ok {
			continue
		}
		r.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if rtm.Family == unix.AF_INET6 {
			r.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRoute reads a route message's output interface, gateway and
// type; ok is false when it names no interface.
func parseRoute(m *syscall.NetlinkMessage) (r Route, ok bool) {
	if len(m.Data) < unix.SizeofRtMsg {
		return r, false
	}
	rtm := (*unix.RtMsg)(unsafe.Pointer(&m.Data[0]))
	r.Local = rtm.Type == unix.RTN_LOCAL
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return r, false
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_OIF:
			if len(a.Value) >= 4 {
				if ifi, err := net.InterfaceByIndex(int(binary.NativeEndian.Uint32(a.Value))); err == nil {
					r.Iface, ok = ifi.Name, true
				}
			}
		case unix.RTA_GATEWAY:
			if g, okg := netip.AddrFromSlice(a.Value); okg {
				r.Gateway = g.Unmap()
			}
		}
	}
	return r, ok
}
