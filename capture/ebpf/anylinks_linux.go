//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"syscall"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// anyIface is the pseudo-interface name for a capture on every interface
// of the network namespace (capture/live.AnyIface).
const anyIface = "any"

// anyLink is one interface a capture on "any" attaches to.
type anyLink struct {
	index int
	name  string
}

// anyLinks is a capture on "any": the TC links of every interface
// attached, by index. Run's poller calls rescan every ifaceCheckEvery, so
// an interface that appears is attached within it; one that goes away
// (the kernel detached its links) is forgotten, and is no error.
type anyLinks struct {
	lister *linkLister
	// netns is the capture's network namespace, where interface indexes
	// are looked up: Run's goroutine may be on a thread in another.
	netns int
	links map[int][]link.Link
	// warned: an interface that appeared could not be attached (the
	// first such failure, reported once in the statistics).
	warned string
}

// attachAny attaches the TC programs to every interface list returns.
// An interface that vanished in between is skipped; any other failure
// fails the capture.
func (s *Source) attachAny() error {
	lister, err := newLinkLister()
	if err != nil {
		return fmt.Errorf("ebpf capture on any: %w", err)
	}
	s.any = &anyLinks{lister: lister, links: map[int][]link.Link{}, netns: -1}
	if s.any.netns, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("ebpf capture on any: open network namespace: %w", err)
	}
	ifs, err := lister.list()
	if err != nil {
		return fmt.Errorf("ebpf capture on any: %w", err)
	}
	for _, l := range ifs {
		lks, err := s.attachTC(l.index, l.name)
		if errors.Is(err, unix.ENODEV) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ebpf capture on any: %w", err)
		}
		s.any.links[l.index] = lks
	}
	return nil
}

// rescan attaches the programs to interfaces that appeared since the last
// look and drops the links of those that went away.
func (s *Source) rescan() {
	a := s.any
	ifs, err := a.lister.list()
	if err != nil {
		if a.warned == "" {
			a.warned = "capture on any: " + err.Error() + ": new interfaces may be missed"
		}
		return
	}
	seen := make(map[int]bool, len(ifs))
	var added []anyLink
	for _, l := range ifs {
		seen[l.index] = true
		if _, ok := a.links[l.index]; !ok {
			added = append(added, l)
		}
	}
	if len(added) > 0 {
		if err := inNetns(a.netns, func() { s.attachNew(added) }); err != nil && a.warned == "" {
			a.warned = "capture on any: " + err.Error() + ": new interfaces are not attached"
		}
	}
	for idx, lks := range a.links {
		if !seen[idx] {
			closeLinks(lks)
			delete(a.links, idx)
		}
	}
}

// attachNew attaches the programs to interfaces that appeared; it runs
// in the capture's namespace. One that vanished meanwhile is skipped.
func (s *Source) attachNew(added []anyLink) {
	a := s.any
	for _, l := range added {
		lks, err := s.attachTC(l.index, l.name)
		if err != nil {
			if !errors.Is(err, unix.ENODEV) && a.warned == "" {
				a.warned = "capture on any: " + err.Error() + ": its packets are not counted"
			}
			continue
		}
		a.links[l.index] = lks
	}
}

// inNetns runs fn on an OS thread moved into the network namespace ns
// (a file descriptor), and waits for it. The thread is moved back after;
// if that fails it is left locked, and ends with its goroutine.
func inNetns(ns int, fn func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter the capture's network namespace: %w", err)
			return
		}
		fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			done <- nil // stay locked: the thread ends with this goroutine
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	return <-done
}

// close detaches from every interface and closes the netlink socket. It
// may be called on nil and more than once.
func (a *anyLinks) close() {
	if a == nil {
		return
	}
	for idx, lks := range a.links {
		closeLinks(lks)
		delete(a.links, idx)
	}
	a.lister.close()
	if a.netns >= 0 {
		_ = unix.Close(a.netns)
		a.netns = -1
	}
}

func closeLinks(lks []link.Link) {
	for _, l := range lks {
		_ = l.Close()
	}
}

// linkLister lists the namespace's interfaces over a netlink socket opened
// by newLinkLister, so that a later dump asks the namespace the capture
// started in, whatever thread the poller runs on.
type linkLister struct{ fd int }

func newLinkLister() (*linkLister, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("list interfaces: bind netlink socket: %w", err)
	}
	return &linkLister{fd: fd}, nil
}

func (l *linkLister) close() {
	if l != nil && l.fd >= 0 {
		_ = unix.Close(l.fd)
		l.fd = -1
	}
}

// linkMsg is what anyLinks needs of one RTM_NEWLINK message.
type linkMsg struct {
	anyLink
	loopback  bool
	master    int    // IFLA_MASTER: the bridge, bond or team it is a port of
	kind      string // IFLA_INFO_KIND: "bridge", "vlan", "veth", ...
	lowerHere bool   // IFLA_LINK names a device in this namespace
}

// stackedKinds are upper devices whose packets their lower device in the
// same namespace also carries (tagged, or to a secondary MAC).
var stackedKinds = map[string]bool{"vlan": true, "macvlan": true, "macvtap": true, "ipvlan": true, "ipvtap": true}

// portMasters are devices whose ports hand them every packet the host
// sends or receives through them.
var portMasters = map[string]bool{"bridge": true, "bond": true, "team": true}

// list returns the interfaces a capture on "any" attaches to (pickAny).
func (l *linkLister) list() ([]anyLink, error) {
	msgs, err := l.dump()
	if err != nil {
		return nil, err
	}
	return pickAny(msgs), nil
}

// pickAny keeps every interface but loopback and those whose packets
// another attached device sees too: the ports of a bridge, bond or team
// (their master is attached) and VLAN, macvlan and ipvlan devices over a
// device of this namespace (the lower device is). Otherwise a packet
// would count twice: the programs count a packet once per device it
// enters or leaves by (see flow_egress in bpf/flow.c for the forwarded
// case).
func pickAny(msgs []linkMsg) []anyLink {
	kinds := make(map[int]string, len(msgs))
	for _, m := range msgs {
		kinds[m.index] = m.kind
	}
	var out []anyLink
	for _, m := range msgs {
		if m.loopback || (m.master != 0 && portMasters[kinds[m.master]]) || (m.lowerHere && stackedKinds[m.kind]) {
			continue
		}
		out = append(out, m.anyLink)
	}
	return out
}

// dump asks for every link (RTM_GETLINK, NLM_F_DUMP).
func (l *linkLister) dump() ([]linkMsg, error) {
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:4], uint32(len(req)))
	ne.PutUint16(req[4:6], unix.RTM_GETLINK)
	ne.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:12], 1)
	if err := unix.Sendto(l.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []linkMsg
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(l.fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		for i := range msgs {
			switch m := &msgs[i]; m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(ne.Uint32(m.Data[0:4])); e < 0 {
						return nil, fmt.Errorf("list interfaces: %w", unix.Errno(-e))
					}
				}
			case unix.RTM_NEWLINK:
				if lm, ok := parseLink(m); ok {
					out = append(out, lm)
				}
			}
		}
	}
}

// parseLink reads one RTM_NEWLINK message.
func parseLink(m *syscall.NetlinkMessage) (linkMsg, bool) {
	if len(m.Data) < unix.SizeofIfInfomsg {
		return linkMsg{}, false
	}
	ne := binary.NativeEndian
	lm := linkMsg{loopback: ne.Uint32(m.Data[8:12])&unix.IFF_LOOPBACK != 0}
	lm.index = int(int32(ne.Uint32(m.Data[4:8])))
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return linkMsg{}, false
	}
	link, netnsID := false, false
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_IFNAME:
			lm.name = cString(a.Value)
		case unix.IFLA_MASTER:
			if len(a.Value) >= 4 {
				lm.master = int(ne.Uint32(a.Value))
			}
		case unix.IFLA_LINK:
			link = true
		case unix.IFLA_LINK_NETNSID:
			netnsID = true
		case unix.IFLA_LINKINFO:
			lm.kind = infoKind(a.Value)
		}
	}
	lm.lowerHere = link && !netnsID
	return lm, lm.index > 0 && lm.name != ""
}

// infoKind finds IFLA_INFO_KIND in a nested IFLA_LINKINFO attribute.
func infoKind(b []byte) string {
	ne := binary.NativeEndian
	for len(b) >= unix.SizeofRtAttr {
		l := int(ne.Uint16(b[0:2]))
		if l < unix.SizeofRtAttr || l > len(b) {
			return ""
		}
		if ne.Uint16(b[2:4]) == unix.IFLA_INFO_KIND {
			return cString(b[unix.SizeofRtAttr:l])
		}
		b = b[min(len(b), (l+unix.NLA_ALIGNTO-1) & ^(unix.NLA_ALIGNTO-1)):]
	}
	return ""
}
