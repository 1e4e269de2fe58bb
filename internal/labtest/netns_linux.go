package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// VethPair is two network namespaces joined by a veth pair: the client
// side ("gateway", where a capture attaches) and the server side (its
// veth is "srv0"). Addresses: VethClientV4/24 and VethClientV6/64 on the
// client, VethServerV4 and VethServerV6 on the server.
type VethPair struct {
	Client, Server string // namespace names
	Dev            string // the client's veth
}

// Addresses of a VethPair's two sides.
const (
	VethClientV4 = "10.99.0.1"
	VethServerV4 = "10.99.0.2"
	VethClientV6 = "2001:db8:99::1"
	VethServerV6 = "2001:db8:99::2"
)

var pairSeq atomic.Int64

// NewVethPair creates the namespaces and removes them when the test ends.
func NewVethPair(t testing.TB) *VethPair {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("need ip(8) from iproute2: %v", err)
	}
	id := fmt.Sprintf("fa-veth-%d-%d", os.Getpid(), pairSeq.Add(1))
	p := &VethPair{Client: id + "-c", Server: id + "-s", Dev: "gw0"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", p.Client).Run()
		_ = exec.Command("ip", "netns", "del", p.Server).Run()
	})
	run("netns", "add", p.Client)
	run("netns", "add", p.Server)
	run("-n", p.Client, "link", "add", p.Dev, "type", "veth", "peer", "name", "srv0", "netns", p.Server)
	run("-n", p.Client, "addr", "add", VethClientV4+"/24", "dev", p.Dev)
	run("-n", p.Server, "addr", "add", VethServerV4+"/24", "dev", "srv0")
	run("-n", p.Client, "addr", "add", VethClientV6+"/64", "dev", p.Dev, "nodad")
	run("-n", p.Server, "addr", "add", VethServerV6+"/64", "dev", "srv0", "nodad")
	for _, ns := range []string{p.Client, p.Server} {
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", p.Client, "link", "set", p.Dev, "up")
	run("-n", p.Server, "link", "set", "srv0", "up")
	return p
}

// InNetns runs fn on an OS thread moved into namespace ns, then moves the
// thread back. Sockets fn opens stay in ns. Restoring matters: the
// goroutine may run on the process's main thread, which the runtime never
// ends, and a main thread left in a lab namespace makes the process one of
// that namespace's (lab.sh down would kill it).
func InNetns(t testing.TB, ns string, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread ends with the goroutine.
			done <- fmt.Errorf("restore namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("enter netns %s: %v", ns, err)
	}
}
