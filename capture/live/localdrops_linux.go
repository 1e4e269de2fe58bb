package live

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/ebpf"
	"github.com/flowaudit/flowaudit/capture/live/nftrules"
)

// rulesMaxAge is how long a copy of the nftables ruleset names rules
// before it is read again (an admin may change it while a capture runs).
const rulesMaxAge = 10 * time.Second

// dropOptions are the options the live source starts its drop probe with
// (a variable: tests make it fail).
var dropOptions = func(netns string) ebpf.DropOptions { return ebpf.DropOptions{Netns: netns} }

// localDrops is the drop probe of one live capture, in the network
// namespace the capture was opened in, and the read-only view of that
// namespace's nftables ruleset that names the rule behind a drop.
type localDrops struct {
	probe *ebpf.DropProbe
	netns *os.File // held: the namespace's path for the ruleset reads

	mu      sync.Mutex
	rules   *nftrules.Ruleset
	rulesAt time.Time
}

// startLocalDrops starts the drop probe in the calling thread's network
// namespace (the capture interface's, since Open found it there). The
// error wraps capture.ErrDropsUnavailable and says why in one line.
func startLocalDrops() (*localDrops, error) {
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("%w: open network namespace: %v", capture.ErrDropsUnavailable, err)
	}
	p, err := ebpf.StartDropProbe(dropOptions(nsPath(ns)))
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &localDrops{probe: p, netns: ns}, nil
}

// nsPath names an open namespace file so that any thread can open it.
func nsPath(f *os.File) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()) }

// rule names where d can have been dropped in the ruleset: table, chain
// and handle when the lookup determines them, else "a rule in the output
// hook". The ruleset is read at most every rulesMaxAge, never changed.
func (l *localDrops) rule(d capture.LocalDrop) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rules == nil || time.Since(l.rulesAt) > rulesMaxAge {
		rs, err := nftrules.Load(nsPath(l.netns))
		if err != nil {
			rs = nil
		}
		l.rules, l.rulesAt = rs, time.Now()
	}
	if l.rules == nil {
		return capture.RuleLocation{Hook: d.Direction.String()}.String()
	}
	return l.rules.Find(capture.RuleQueryOf(d)).String()
}

// Close stops the probe.
func (l *localDrops) Close() error {
	err := l.probe.Close()
	l.netns.Close()
	return err
}

// Drops is the probe's records (DropProbe.Drops).
func (l *localDrops) Drops() ([]capture.LocalDrop, error) { return l.probe.Drops() }

// Stats is the probe's counters (DropProbe.Stats).
func (l *localDrops) Stats() (capture.LocalDropStats, error) { return l.probe.Stats() }
