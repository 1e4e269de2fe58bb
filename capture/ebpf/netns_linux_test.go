//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

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

// vethPair is two network namespaces joined by a veth pair: the client
// side ("gateway", where the backend attaches) and the server side.
// Addresses: 10.99.0.1/24 + 2001:db8:99::1/64 (client), .2 / ::2 (server).
type vethPair struct {
	client, server string // namespace names
	dev            string // the client's veth
}

const (
	clientV4 = "10.99.0.1"
	serverV4 = "10.99.0.2"
	clientV6 = "2001:db8:99::1"
	serverV6 = "2001:db8:99::2"
)

var pairSeq atomic.Int64

// newVethPair creates the namespaces and removes them when the test ends.
func newVethPair(t *testing.T) *vethPair {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("need ip(8) from iproute2: %v", err)
	}
	id := fmt.Sprintf("fa-ebpf-%d-%d", os.Getpid(), pairSeq.Add(1))
	p := &vethPair{client: id + "-c", server: id + "-s", dev: "gw0"}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", p.client).Run()
		_ = exec.Command("ip", "netns", "del", p.server).Run()
	})
	run("netns", "add", p.client)
	run("netns", "add", p.server)
	run("-n", p.client, "link", "add", p.dev, "type", "veth", "peer", "name", "srv0", "netns", p.server)
	run("-n", p.client, "addr", "add", clientV4+"/24", "dev", p.dev)
	run("-n", p.server, "addr", "add", serverV4+"/24", "dev", "srv0")
	run("-n", p.client, "addr", "add", clientV6+"/64", "dev", p.dev, "nodad")
	run("-n", p.server, "addr", "add", serverV6+"/64", "dev", "srv0", "nodad")
	for _, ns := range []string{p.client, p.server} {
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", p.client, "link", "set", p.dev, "up")
	run("-n", p.server, "link", "set", "srv0", "up")
	return p
}

// inNetns runs fn on an OS thread moved into namespace ns, then moves the
// thread back. Sockets fn opens stay in ns. Restoring matters: the
// goroutine may run on the process's main thread, which the runtime never
// ends, and a main thread left in a lab namespace makes the process one of
// that namespace's (lab.sh down would kill it).
func inNetns(t *testing.T, ns string, fn func()) {
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
