package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/catalog"
)

// The firewall export's lab (issue 12 item 6): a gateway namespace and a
// peer namespace joined by a veth pair, documentation addresses only. The
// export of mailcleaner (every feature on, zones from a site file,
// management networks from --allow-admin) is loaded into the gateway, in
// each format in turn, and judged with real connections: admin access
// survives, an address outside the management networks is refused, every
// applicable requirement passes, and connections open before the load
// stay up.

// Addresses of the lab. The peer holds one address per role on the same
// link; the gateway one per subnet, so that a reply leaves from the
// address the request went to.
var (
	labGW = map[string]string{ // subnet of the peer address -> gateway address
		"192.0.2.": "192.0.2.1", "198.51.100.": "198.51.100.1", "203.0.113.": "203.0.113.1",
		"2001:db8:1::": "2001:db8:1::1", "2001:db8:51::": "2001:db8:51::1",
	}
	labGWAddrs   = []string{"192.0.2.1/24", "198.51.100.1/24", "203.0.113.1/24", "2001:db8:1::1/64", "2001:db8:51::1/64"}
	labPeerAddrs = []string{"192.0.2.2/24", "192.0.2.200/24", "198.51.100.2/24", "198.51.100.130/24", "203.0.113.2/24",
		"2001:db8:1::2/64", "2001:db8:1::1:2/64", "2001:db8:51::2/64"}
	// --allow-admin networks: 192.0.2.2 and 2001:db8:1::2 are in them,
	// 192.0.2.200 and 2001:db8:1::1:2 are not.
	labAdmin = []string{"192.0.2.0/28", "2001:db8:1::/120"}
	labSite  = "hosts: [192.0.2.1, 2001:db8:1::1]\n" +
		"zones:\n  vendor-support: [198.51.100.0/25, 2001:db8:51::/64]\n  cluster-peers: [198.51.100.128/25]\n" +
		"features: {cluster: true, premium-support: true}\n"
	// Who stands for a requirement's peers, per family.
	labPeers = map[string][]string{
		"any":                 {"203.0.113.2", "2001:db8:1::1:2"},
		"zone:vendor-support": {"198.51.100.2", "2001:db8:51::2"},
		"zone:cluster-peers":  {"198.51.100.130"},
	}
)

// labNS is a network namespace the test created.
type labNS struct{ name string }

// do runs fn on a thread moved into the namespace: sockets fn opens
// (listeners, connections) belong to the namespace for good. The thread
// is never unlocked, so it ends with its goroutine instead of going back
// to the scheduler in the wrong namespace.
func (n labNS) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// exec runs a command in the namespace.
func (n labNS) exec(args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

var labSeq atomic.Uint32

// requireExportLab skips the test unless it can build namespaces and
// load both formats, and fails instead under CI=true.
func requireExportLab(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces, nft and iptables-restore (run: sudo -E go test -run Privileged ./cmd/flowaudit)"
	} else {
		for _, tool := range []string{"ip", "nft", "iptables-restore", "ip6tables-restore", "ping"} {
			if _, err := exec.LookPath(tool); err != nil {
				why = "needs " + tool + " (Debian packages iproute2, nftables, iptables, iputils-ping)"
				break
			}
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: privileged tests must run)", why)
	}
	t.Skip(why)
}

// upExportLab makes the two namespaces and the link between them; they
// are removed (with every socket and rule in them) when the test ends.
func upExportLab(t *testing.T) (gw, peer labNS) {
	t.Helper()
	id := fmt.Sprintf("%d-%d", os.Getpid()%100000, labSeq.Add(1))
	gw, peer = labNS{"fx-gw-" + id}, labNS{"fx-peer-" + id}
	for _, ns := range []labNS{gw, peer} {
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.name).Run() })
		if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns.name, err, out)
		}
	}
	steps := [][]string{
		{"ip", "-n", gw.name, "link", "add", "gw0", "type", "veth", "peer", "name", "peer0", "netns", peer.name},
		{"ip", "-n", gw.name, "link", "set", "lo", "up"},
		{"ip", "-n", peer.name, "link", "set", "lo", "up"},
	}
	for _, a := range labGWAddrs {
		steps = append(steps, append([]string{"ip", "-n", gw.name, "addr", "add", a, "dev", "gw0"}, nodad(a)...))
	}
	for _, a := range labPeerAddrs {
		steps = append(steps, append([]string{"ip", "-n", peer.name, "addr", "add", a, "dev", "peer0"}, nodad(a)...))
	}
	steps = append(steps, []string{"ip", "-n", gw.name, "link", "set", "gw0", "up"}, []string{"ip", "-n", peer.name, "link", "set", "peer0", "up"})
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return gw, peer
}

// nodad makes an IPv6 address usable at once (no duplicate detection).
func nodad(a string) []string {
	if strings.Contains(a, ":") {
		return []string{"nodad"}
	}
	return nil
}

// labListeners are the echo services of one namespace: TCP on every
// address, UDP on each address of its own (a reply must leave from the
// address the datagram went to).
type labListeners struct {
	closers []func() error
	// held receives the server side of every TCP connection whose first
	// line is "hold": the test drives both ends of it.
	held chan net.Conn
}

func (l *labListeners) close() {
	for _, c := range l.closers {
		_ = c()
	}
}

// labListen opens the services in ns: TCP echo on tcpPorts, UDP echo on
// udpPorts of each of addrs.
func labListen(t *testing.T, ns labNS, tcpPorts, udpPorts []int, addrs []string) *labListeners {
	t.Helper()
	l := &labListeners{held: make(chan net.Conn, 8)}
	t.Cleanup(l.close)
	err := ns.do(func() error {
		for _, port := range tcpPorts {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
			if err != nil {
				return err
			}
			l.closers = append(l.closers, ln.Close)
			go l.serveTCP(ln)
		}
		for _, a := range addrs {
			ip, _, _ := strings.Cut(a, "/")
			for _, port := range udpPorts {
				pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
				if err != nil {
					return err
				}
				l.closers = append(l.closers, pc.Close)
				go labServeUDP(pc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", ns.name, err)
	}
	return l
}

func (l *labListeners) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					c.Close()
					return
				}
				if line == "hold\n" {
					l.held <- c
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					c.Close()
					return
				}
			}
		}()
	}
}

func labServeUDP(pc net.PacketConn) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}

// labProbe opens a connection (tcp) or sends a datagram (udp) from src (""
// lets the kernel choose) to dst:port inside ns, and wants its echo back
// within wait.
func labProbe(ns labNS, proto, src, dst string, port int, wait time.Duration) error {
	return ns.do(func() error {
		d := net.Dialer{Timeout: wait}
		if src != "" {
			ip := net.ParseIP(src)
			d.LocalAddr = &net.TCPAddr{IP: ip}
			if proto == "udp" {
				d.LocalAddr = &net.UDPAddr{IP: ip}
			}
		}
		c, err := d.Dial(proto, net.JoinHostPort(dst, fmt.Sprint(port)))
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := c.Write([]byte("probe\n")); err != nil {
			return err
		}
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if string(buf[:n]) != "probe\n" {
			return fmt.Errorf("echo %q", buf[:n])
		}
		return nil
	})
}

// labPing sends one echo request from src to dst inside ns.
func labPing(ns labNS, src, dst string) error {
	return ns.exec("ping", "-n", "-q", "-c", "1", "-W", "2", "-I", src, dst)
}

// labGWFor is the gateway's address on the subnet of peer address a.
func labGWFor(a string) string {
	for prefix, gw := range labGW {
		if strings.HasPrefix(a, prefix) {
			return gw
		}
	}
	panic("no gateway address for " + a)
}

// labSession opens a TCP connection from src to the gateway's port and
// returns both ends, the gateway's as the listener accepted it.
func labSession(t *testing.T, peer labNS, l *labListeners, src string, port int) (client, server net.Conn) {
	t.Helper()
	err := peer.do(func() error {
		d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", net.JoinHostPort(labGWFor(src), fmt.Sprint(port)))
		if err != nil {
			return err
		}
		client = c
		_, err = c.Write([]byte("hold\n"))
		return err
	})
	if err != nil {
		t.Fatalf("open a session from %s to port %d: %v", src, port, err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case server = <-l.held:
		t.Cleanup(func() { server.Close() })
	case <-time.After(3 * time.Second):
		t.Fatalf("session from %s to port %d: the gateway never saw it", src, port)
	}
	return client, server
}

// labExchange sends a line each way over a session opened before the load,
// the gateway first (its reply leaves before anything comes in: the
// harder case for a session conntrack did not see open).
func labExchange(client, server net.Conn) error {
	for _, dir := range []struct {
		from, to net.Conn
		what     string
	}{{server, client, "gateway to peer"}, {client, server, "peer to gateway"}} {
		_ = dir.to.SetReadDeadline(time.Now().Add(4 * time.Second))
		if _, err := dir.from.Write([]byte("still here\n")); err != nil {
			return fmt.Errorf("%s: %w", dir.what, err)
		}
		line, err := bufio.NewReader(dir.to).ReadString('\n')
		if err != nil || line != "still here\n" {
			return fmt.Errorf("%s: %q, %v", dir.what, line, err)
		}
	}
	return nil
}

// labCheck is one connection the test makes after the load.
type labCheck struct {
	what    string
	ns      labNS
	proto   string // tcp, udp or ping
	src     string
	dst     string
	port    int
	refused bool // the ruleset must stop it
}

func (c labCheck) run() error {
	var err error
	if c.proto == "ping" {
		err = labPing(c.ns, c.src, c.dst)
	} else {
		err = labProbe(c.ns, c.proto, c.src, c.dst, c.port, 2*time.Second)
	}
	switch {
	case c.refused && err == nil:
		return fmt.Errorf("%s: got through, want it refused", c.what)
	case !c.refused && err != nil:
		return fmt.Errorf("%s: %v", c.what, err)
	}
	return nil
}

// requirementChecks makes a check per applicable requirement of p, per
// family its peers have a lab address in: inbound ones from the peer to
// the gateway's listeners, outbound ones from the gateway to the peer's.
func requirementChecks(t *testing.T, p *catalog.Product, features map[string]bool, gw, peer labNS) []labCheck {
	t.Helper()
	var checks []labCheck
	for _, r := range p.Requirements {
		if !r.Applies(features) {
			continue
		}
		var srcs []string
		for _, pe := range r.Peers {
			srcs = append(srcs, labPeers[pe.String()]...)
		}
		if len(srcs) == 0 || r.Protocol == catalog.ICMP {
			t.Fatalf("%s: the lab has no peer for it", r.ID)
		}
		for _, a := range srcs {
			for _, pr := range r.Ports {
				for _, port := range []int{int(pr[0]), int(pr[1])} {
					c := labCheck{what: fmt.Sprintf("%s from %s", r.ID, a), ns: peer, proto: string(r.Protocol), src: a, dst: labGWFor(a), port: port}
					if r.Direction == catalog.Out {
						c = labCheck{what: fmt.Sprintf("%s to %s", r.ID, a), ns: gw, proto: string(r.Protocol), dst: a, port: port}
					}
					checks = append(checks, c)
					if pr[0] == pr[1] {
						break
					}
				}
			}
		}
	}
	return checks
}

// portsOf lists the ports of p's applicable requirements of one
// direction and protocol, for the listeners.
func portsOf(p *catalog.Product, features map[string]bool, dir catalog.Direction, proto catalog.Protocol) []int {
	seen := map[int]bool{}
	var out []int
	for _, r := range p.Requirements {
		if !r.Applies(features) || r.Direction != dir || r.Protocol != proto {
			continue
		}
		for _, pr := range r.Ports {
			for port := int(pr[0]); port <= int(pr[1]); port++ {
				if !seen[port] {
					seen[port] = true
					out = append(out, port)
				}
			}
		}
	}
	return out
}

// TestPrivilegedExportLab loads the export in each format into a gateway
// namespace and checks it with real connections.
func TestPrivilegedExportLab(t *testing.T) {
	requireExportLab(t)
	for _, format := range []string{"nftables", "iptables"} {
		t.Run(format, func(t *testing.T) { exportLab(t, format) })
	}
}

// exportFiles runs `catalog export` as an admin would, for format
// (nftables, or iptables for both halves), into dir; it returns the
// files by format.
func exportFiles(t *testing.T, format, dir string) map[string]string {
	t.Helper()
	site := filepath.Join(dir, "site.yaml")
	writeCatalogFile(t, site, labSite)
	files := map[string]string{"nftables": filepath.Join(dir, "mailcleaner.nft")}
	if format == "iptables" {
		files = map[string]string{"iptables": filepath.Join(dir, "rules.v4"), "ip6tables": filepath.Join(dir, "rules.v6")}
	}
	for f, file := range files {
		args := []string{"catalog", "export", "mailcleaner", "--format", f, "--site", site, "-o", file}
		for _, a := range labAdmin {
			args = append(args, "--allow-admin", a)
		}
		if _, stderr, err := runCatalogIO(t, args...); err != nil || strings.Contains(stderr, "LOCK-OUT") {
			t.Fatalf("export %s: %v\n%s", f, err, stderr)
		}
	}
	return files
}

// loadExport loads the files exportFiles wrote into the gateway.
func loadExport(gw labNS, files map[string]string) error {
	if f, ok := files["nftables"]; ok {
		return gw.exec("nft", "-f", f)
	}
	if err := gw.exec("iptables-restore", files["iptables"]); err != nil {
		return err
	}
	return gw.exec("ip6tables-restore", files["ip6tables"])
}

// labRefusals are the connections the ruleset must refuse. Each has a
// listener behind it, and each gets through before the load, so that a
// refusal is the ruleset's doing.
func labRefusals(gw, peer labNS) []labCheck {
	return []labCheck{
		{what: "SSH from 192.0.2.200 (outside --allow-admin)", ns: peer, proto: "tcp", src: "192.0.2.200", dst: "192.0.2.1", port: 22},
		{what: "web UI (443) from 192.0.2.200", ns: peer, proto: "tcp", src: "192.0.2.200", dst: "192.0.2.1", port: 443},
		{what: "ping from 192.0.2.200", ns: peer, proto: "ping", src: "192.0.2.200", dst: "192.0.2.1"},
		{what: "SSH from 2001:db8:1::1:2 (outside --allow-admin)", ns: peer, proto: "tcp", src: "2001:db8:1::1:2", dst: "2001:db8:1::1", port: 22},
		{what: "cluster MySQL (3306) from the internet", ns: peer, proto: "tcp", src: "203.0.113.2", dst: "203.0.113.1", port: 3306},
		{what: "a new connection to 2222 from 203.0.113.2", ns: peer, proto: "tcp", src: "203.0.113.2", dst: "203.0.113.1", port: 2222},
		{what: "cluster MySQL (3306) out to the internet", ns: gw, proto: "tcp", dst: "203.0.113.2", port: 3306},
	}
}

// labAdminChecks are the management networks' access, which must pass.
func labAdminChecks(peer labNS) []labCheck {
	return []labCheck{
		{what: "SSH from the admin 192.0.2.2", ns: peer, proto: "tcp", src: "192.0.2.2", dst: "192.0.2.1", port: 22},
		{what: "web UI (80) from the admin 192.0.2.2", ns: peer, proto: "tcp", src: "192.0.2.2", dst: "192.0.2.1", port: 80},
		{what: "web UI (443) from the admin 192.0.2.2", ns: peer, proto: "tcp", src: "192.0.2.2", dst: "192.0.2.1", port: 443},
		{what: "ping from the admin 192.0.2.2", ns: peer, proto: "ping", src: "192.0.2.2", dst: "192.0.2.1"},
		{what: "SSH from the admin 2001:db8:1::2", ns: peer, proto: "tcp", src: "2001:db8:1::2", dst: "2001:db8:1::1", port: 22},
		{what: "web UI (443) from the admin 2001:db8:1::2", ns: peer, proto: "tcp", src: "2001:db8:1::2", dst: "2001:db8:1::1", port: 443},
		{what: "ping from the admin 2001:db8:1::2", ns: peer, proto: "ping", src: "2001:db8:1::2", dst: "2001:db8:1::1"},
	}
}

// refuseAll runs the refusals side by side (each waits for a timeout)
// and returns what got through.
func refuseAll(checks []labCheck) error {
	var wg sync.WaitGroup
	errs := make([]error, len(checks))
	for i, c := range checks {
		c.refused = true
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.run() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func exportLab(t *testing.T, format string) {
	start := time.Now()
	gw, peer := upExportLab(t)
	files := exportFiles(t, format, t.TempDir())
	c, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Product("mailcleaner")
	features := map[string]bool{"cluster": true, "premium-support": true}

	// Services: on the gateway, every inbound port (and 2222, which no
	// requirement opens); on the peer, every outbound one.
	gwL := labListen(t, gw, append(portsOf(p, features, catalog.In, catalog.TCP), 2222), portsOf(p, features, catalog.In, catalog.UDP), labGWAddrs)
	labListen(t, peer, portsOf(p, features, catalog.Out, catalog.TCP), portsOf(p, features, catalog.Out, catalog.UDP), labPeerAddrs)
	refused := labRefusals(gw, peer)
	for _, c := range refused {
		if err := c.run(); err != nil {
			t.Fatalf("before the load: %v", err)
		}
	}

	// Sessions open across the load. The admin's SSH session starts
	// before conntrack runs in the namespace (a host with no ruleset
	// yet): the admin rules must carry it. Then conntrack is started by
	// a table that accepts everything, and a session from an address the
	// ruleset will not admit is opened: conntrack must carry that one.
	adminC, adminS := labSession(t, peer, gwL, "192.0.2.2", 22)
	if err := gw.exec("nft", "add table inet fxwarm { chain c { type filter hook input priority -10; policy accept; ct state new counter; }; }"); err != nil {
		t.Fatal(err)
	}
	otherC, otherS := labSession(t, peer, gwL, "203.0.113.2", 2222)
	if err := labExchange(otherC, otherS); err != nil {
		t.Fatalf("before the load: %v", err)
	}

	if err := loadExport(gw, files); err != nil {
		t.Fatalf("load: %v", err)
	}
	loaded := time.Now()
	// Forget the neighbours: IPv6 must find them again through the
	// ruleset (neighbour discovery).
	for _, ns := range []labNS{gw, peer} {
		if err := ns.exec("ip", "neigh", "flush", "all"); err != nil {
			t.Fatal(err)
		}
	}
	if err := labExchange(adminC, adminS); err != nil {
		t.Errorf("the admin's SSH session, open before the load: %v", err)
	}
	if err := labExchange(otherC, otherS); err != nil {
		t.Errorf("a session conntrack knew, open before the load: %v", err)
	}
	admin := labAdminChecks(peer)
	reqs := requirementChecks(t, p, features, gw, peer)
	for _, c := range append(admin, reqs...) {
		if err := c.run(); err != nil {
			t.Error(err)
		}
	}
	if err := refuseAll(refused); err != nil {
		t.Error(err)
	}
	t.Logf("%s: %d requirement checks, %d admin checks, %d refusals, 2 sessions across the load; lab %v, checks %v",
		format, len(reqs), len(admin), len(refused), loaded.Sub(start).Round(time.Millisecond), time.Since(loaded).Round(time.Millisecond))
}
