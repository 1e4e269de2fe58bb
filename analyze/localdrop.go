package analyze

import (
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Local reasons: the capture host's own kernel stopped the flow, as the
// live capture's drop probe saw (flow.Flow.LocalDrop, docs/local-drops.md).
const (
	// ReasonLocalDrop: this gateway's own firewall (nftables, iptables)
	// dropped or rejected the attempts, on output (nothing left) or on
	// input (they arrived and were dropped before their socket).
	ReasonLocalDrop Reason = "local-drop"
	// ReasonNoRoute: this gateway had no route for them.
	ReasonNoRoute Reason = "no-route"
	// ReasonNeighFailed: this gateway could not resolve the next hop's
	// link address (ARP, IPv6 neighbour discovery).
	ReasonNeighFailed Reason = "neigh-failed"
	// ReasonSocketFilter: a socket's BPF filter on this gateway dropped
	// them.
	ReasonSocketFilter Reason = "socket-filter"
)

// LocalReason is the verdict reason of a kernel drop reason (the probe's
// names: "netfilter-drop", "ip-outnoroutes"...), or "" for the kernel
// reasons that are kept as flow evidence but decide no verdict.
func LocalReason(kernel string) Reason {
	switch kernel {
	case "netfilter-drop":
		return ReasonLocalDrop
	case "ip-outnoroutes", "ip-innoroutes":
		return ReasonNoRoute
	case "neigh-createfail", "neigh-failed", "neigh-queuefull", "neigh-dead":
		return ReasonNeighFailed
	case "socket-filter":
		return ReasonSocketFilter
	}
	return ""
}

// localFailure is the local reason that stopped f, if its own host
// dropped packets of it for one: "" when it worked all the same, or for a
// kernel reason that decides nothing.
func localFailure(f *flow.Flow) Reason {
	if f.LocalDrop == nil || f.Outcome == flow.Established || f.Outcome == flow.Unknown || f.Outcome == "" {
		return ""
	}
	return LocalReason(f.LocalDrop.Reason)
}

// Hook bits: where the gateway dropped a local reason's attempts.
const (
	hookInput  uint8 = 1
	hookOutput uint8 = 2
)

func hookBit(hook string) uint8 {
	switch hook {
	case "input":
		return hookInput
	case "output":
		return hookOutput
	}
	return 0
}

// localText is a local reason as a sentence, saying where (hooks).
func localText(r Reason, hooks uint8) string {
	base := r.Text()
	switch hooks {
	case hookInput:
		return base + " (input)"
	case hookOutput:
		return base + " (output)"
	case hookInput | hookOutput:
		return base + " (input and output)"
	}
	return base
}

// Local reports whether the reason is the capture host's own doing (its
// firewall, routing, neighbour resolution, a socket filter): the fix is
// on the gateway, not upstream.
func (r Reason) Local() bool {
	return r == ReasonLocalDrop || r == ReasonNoRoute || r == ReasonNeighFailed || r == ReasonSocketFilter
}

// replayDropsNote is the warning of a report over a capture that could
// not see local drops (a replay) when a requirement is never-seen.
const replayDropsNote = "local drops are not visible in a replay: a never-seen requirement may be dropped by " +
	"this gateway's own firewall; capture live to see"

// localDropsWarning returns replayDropsNote when it applies: no drop probe
// ran, the capture is a replay of files, and some requirement was never
// seen.
func localDropsWarning(st *capture.Stats, sum *Summary) string {
	if st.LocalDrops != nil || st.Backend != "file" || sum.NeverSeen == 0 {
		return ""
	}
	return replayDropsNote
}
