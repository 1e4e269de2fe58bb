package analyze

import (
	"cmp"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Process tracking is bounded like peer tracking: a requirement or an
// unexpected group follows at most MaxProcesses program names, each with
// its first maxProcessPIDs process ids; flows of further programs are
// counted together (ProcessFlowsOther).
const (
	// MaxProcesses bounds the programs listed per requirement or
	// unexpected group.
	MaxProcesses   = 4
	maxProcessPIDs = 4
)

// ProcessSeen is one local program behind flows of a requirement or an
// unexpected group, when the capture could tell (eBPF attribution, best
// effort): its name, the first process ids seen with it, and its flows.
type ProcessSeen struct {
	Comm string `json:"comm"`
	// PIDs are the first process ids seen with this name (at most 4),
	// sorted; MorePIDs is true when there were others.
	PIDs     []uint32 `json:"pids"`
	MorePIDs bool     `json:"more_pids,omitempty"`
	Flows    int      `json:"flows"`
	// Failed counts the flows that were attempts and did not work.
	Failed int `json:"failed"`
}

// processTable follows the programs of one requirement or group, in the
// order first seen.
type processTable struct {
	procs []ProcessSeen
	other int // flows of programs beyond MaxProcesses
}

// add counts one flow opened by p (nil: not attributed).
func (t *processTable) add(p *flow.Process, failed bool) {
	if p == nil {
		return
	}
	i := slices.IndexFunc(t.procs, func(s ProcessSeen) bool { return s.Comm == p.Comm })
	if i < 0 {
		if len(t.procs) == MaxProcesses {
			t.other++
			return
		}
		t.procs = append(t.procs, ProcessSeen{Comm: strings.Clone(p.Comm)})
		i = len(t.procs) - 1
	}
	s := &t.procs[i]
	s.Flows++
	if failed {
		s.Failed++
	}
	switch {
	case slices.Contains(s.PIDs, p.PID):
	case len(s.PIDs) < maxProcessPIDs:
		s.PIDs = append(s.PIDs, p.PID)
	default:
		s.MorePIDs = true
	}
}

// list returns the programs, most failed flows first, then most flows,
// then by name; nil when none.
func (t *processTable) list() []ProcessSeen {
	if len(t.procs) == 0 {
		return nil
	}
	out := make([]ProcessSeen, len(t.procs))
	for i, p := range t.procs {
		out[i] = p
		out[i].PIDs = slices.Clone(p.PIDs)
		slices.Sort(out[i].PIDs)
	}
	slices.SortFunc(out, func(a, b ProcessSeen) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(b.Flows, a.Flows), cmp.Compare(a.Comm, b.Comm))
	})
	return out
}

func (t processTable) clone() processTable {
	c := processTable{other: t.other, procs: slices.Clone(t.procs)}
	for i := range c.procs {
		c.procs[i].PIDs = slices.Clone(c.procs[i].PIDs)
	}
	return c
}
