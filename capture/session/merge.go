package session

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/text"
)

// flowKey identifies one flow across two sessions of the same node: a
// flow table never starts two flows of one 5-tuple at the same instant.
type flowKey struct {
	proto      uint8
	orig, resp netip.AddrPort
	sec        int64
	nsec       int
}

func keyOf(f *flow.Flow) flowKey {
	return flowKey{f.Proto, f.Orig, f.Resp, f.Start.Unix(), f.Start.Nanosecond()}
}

// Merge joins sessions (several gateways of one cluster, or several runs
// of one gateway) into one capture result. Every flow's Node is set to
// the name of the session that recorded it (sessions without a node name
// are called "session-N", N counting from 1), counters are summed, the
// time span is the union, warnings and read errors are kept, prefixed by
// node. When two sessions of one node overlap in time, a flow both
// recorded (same protocol, addresses, ports and start) is kept once
// (the finished copy if one was still open) and a warning says so.
func Merge(sessions ...*Session) *capture.Result {
	res := &capture.Result{}
	n := 0
	perNode := map[string]int{}
	for i, s := range sessions {
		n += len(s.Flows)
		perNode[NodeName(s, i)]++
	}
	res.Flows = make([]flow.Flow, 0, n)
	st := &res.Stats
	backends := map[string]bool{}
	var ifaces, attribution []string
	// Flows already merged, for nodes recorded by more than one session.
	known := map[string]map[flowKey]int{}
	dups := map[string]int{}
	prefixFor := func(node string) string {
		if len(sessions) == 1 {
			return ""
		}
		return node + ": "
	}
	for i, s := range sessions {
		node := NodeName(s, i)
		seen := known[node]
		if seen == nil && perNode[node] > 1 {
			seen = map[flowKey]int{}
			known[node] = seen
		}
		var added []flowKey
		for _, f := range s.Flows {
			f.Node = node
			if seen != nil {
				k := keyOf(&f)
				if j, ok := seen[k]; ok {
					dups[node]++
					if res.Flows[j].Open && !f.Open {
						res.Flows[j] = f
					}
					continue
				}
				added = append(added, k)
			}
			res.Flows = append(res.Flows, f)
		}
		// Registered after the session's own flows: one session's flows
		// are never merged with each other.
		for j, k := range added {
			seen[k] = len(res.Flows) - len(added) + j
		}
		ss := s.Stats
		backends[ss.Backend] = true
		if ss.Iface != "" && !slices.Contains(ifaces, node+":"+ss.Iface) {
			ifaces = append(ifaces, node+":"+ss.Iface)
		}
		if ss.Attribution != "" && !slices.Contains(attribution, prefixFor(node)+ss.Attribution) {
			attribution = append(attribution, prefixFor(node)+ss.Attribution)
		}
		st.Files = append(st.Files, ss.Files...)
		if !ss.Start.IsZero() && (st.Start.IsZero() || ss.Start.Before(st.Start)) {
			st.Start = ss.Start
		}
		if ss.End.After(st.End) {
			st.End = ss.End
		}
		st.Packets += ss.Packets
		st.Bytes += ss.Bytes
		st.Flows += ss.Flows
		st.Undecodable += ss.Undecodable
		st.IfaceDrops += ss.IfaceDrops
		st.KernelDrops += ss.KernelDrops
		st.MissedBytes += ss.MissedBytes
		st.Evicted += ss.Evicted
		st.Interrupted = st.Interrupted || ss.Interrupted
		for _, e := range ss.ReadErrors {
			st.ReadErrors = append(st.ReadErrors, prefixFor(node)+e)
		}
		for _, w := range ss.Warnings {
			st.Warnings = append(st.Warnings, prefixFor(node)+w)
		}
	}
	for _, node := range slices.Sorted(maps.Keys(dups)) {
		d := dups[node]
		st.Flows -= min(st.Flows, uint64(d))
		st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d flow(s) recorded by two sessions of this node (their spans overlap) were counted once; packet and byte totals count the overlap twice", node, d))
	}
	st.Backend = strings.Join(slices.Sorted(maps.Keys(backends)), "+")
	if len(sessions) == 1 {
		st.Iface = sessions[0].Stats.Iface
	} else {
		st.Iface = strings.Join(ifaces, ",")
	}
	st.Attribution = strings.Join(attribution, "; ")
	// Flows in time order, as a single capture would list them.
	sort.SliceStable(res.Flows, func(a, b int) bool { return res.Flows[a].Start.Before(res.Flows[b].Start) })
	return res
}

// NodeName is the name Merge gives the i-th (0-based) session's flows.
func NodeName(s *Session, i int) string {
	if s.Node != "" {
		return s.Node
	}
	return fmt.Sprintf("session-%d", i+1)
}

// Hosts returns the union of the gateway addresses the sessions
// recorded, sorted, and a description of where they came from. Sessions
// that recorded none contribute nothing: ResolveHosts infers theirs.
func Hosts(sessions ...*Session) ([]netip.Addr, string) {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	var how []string
	for i, s := range sessions {
		for _, a := range s.Hosts {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
		if s.HostsHow != "" {
			h := s.HostsHow
			if len(sessions) > 1 {
				h = NodeName(s, i) + ": " + h
			}
			if !slices.Contains(how, h) {
				how = append(how, h)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Less(out[b]) })
	return out, strings.Join(how, "; ")
}

// InferFunc guesses one session's gateway addresses from its flows and
// says how (for example with the analyzer's inference: this package does
// not depend on the analyzer).
type InferFunc func(s *Session) (addrs []netip.Addr, how string, err error)

// HostsOf is where one session's gateway addresses came from.
type HostsOf struct {
	Node  string
	Addrs []netip.Addr
	// How is the session's hosts_how, or InferFunc's description.
	How string
	// Inferred is true when these addresses were inferred from the
	// session's flows: by ResolveHosts (the session recorded none) or by
	// its recorder (HostsInferred).
	Inferred bool
}

// ResolvedHosts are the gateway addresses of merged sessions.
type ResolvedHosts struct {
	// Addrs is the union of every session's addresses, sorted.
	Addrs []netip.Addr
	// How says which came from where: "sessions: gw1 192.0.2.10 (--host);
	// gw2 192.0.2.11 (inferred ...)".
	How string
	// Sessions holds one entry per session, in order.
	Sessions []HostsOf
}

// Inferred returns the sessions whose addresses were inferred.
func (r *ResolvedHosts) Inferred() []HostsOf {
	var out []HostsOf
	for _, h := range r.Sessions {
		if h.Inferred {
			out = append(out, h)
		}
	}
	return out
}

// ResolveHosts finds the gateway addresses of every session: those it
// recorded, else (hosts empty: an older replay, a hand-made file) what
// infer finds in that session's own flows, so each gateway of a cluster
// keeps its own addresses. The result is their union.
func ResolveHosts(infer InferFunc, sessions ...*Session) (*ResolvedHosts, error) {
	r := &ResolvedHosts{}
	seen := map[netip.Addr]bool{}
	var how []string
	for i, s := range sessions {
		h := HostsOf{Node: NodeName(s, i), Addrs: s.Hosts, How: s.HostsHow,
			// Files written before hosts_inferred existed say it in hosts_how.
			Inferred: s.HostsInferred || strings.HasPrefix(s.HostsHow, "inferred")}
		if h.How == "" {
			h.How = "recorded in the session"
		}
		if len(s.Hosts) == 0 {
			addrs, inferHow, err := infer(s)
			if err != nil {
				return nil, fmt.Errorf("infer the gateway addresses of session %s: %w", h.Node, err)
			}
			h.Addrs, h.How, h.Inferred = addrs, inferHow, true
		}
		r.Sessions = append(r.Sessions, h)
		for _, a := range h.Addrs {
			if !seen[a] {
				seen[a] = true
				r.Addrs = append(r.Addrs, a)
			}
		}
		line := h.Node + " " + cmp.Or(text.Addrs(h.Addrs), "none") + " (" + h.How + ")"
		if !slices.Contains(how, line) {
			how = append(how, line)
		}
	}
	slices.SortFunc(r.Addrs, netip.Addr.Compare)
	r.How = "sessions: " + strings.Join(how, "; ")
	return r, nil
}
