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
	m := &merger{res: &capture.Result{}, single: len(sessions) == 1, perNode: map[string]int{},
		known: map[string]map[flowKey]int{}, dups: map[string]int{}, backends: map[string]bool{}}
	n := 0
	for i, s := range sessions {
		n += len(s.Flows)
		m.perNode[NodeName(s, i)]++
	}
	m.res.Flows = make([]flow.Flow, 0, n)
	for i, s := range sessions {
		node := NodeName(s, i)
		m.addFlows(node, s.Flows)
		m.addStats(node, &s.Stats)
	}
	m.finish(sessions)
	return m.res
}

// merger is one Merge's state.
type merger struct {
	res     *capture.Result
	single  bool           // one session: nothing is prefixed by node
	perNode map[string]int // sessions per node
	// known indexes the flows already merged, for nodes recorded by more
	// than one session; dups counts per node the flows found twice.
	known    map[string]map[flowKey]int
	dups     map[string]int
	backends map[string]bool
	ifaces   []string
	attrib   []string
}

// prefixFor is what a node's warnings and read errors start with.
func (m *merger) prefixFor(node string) string {
	if m.single {
		return ""
	}
	return node + ": "
}

// addFlows adds a session's flows as node's, keeping once a flow an
// earlier session of the same node recorded too (the finished copy).
func (m *merger) addFlows(node string, flows []flow.Flow) {
	res := m.res
	seen := m.known[node]
	if seen == nil && m.perNode[node] > 1 {
		seen = map[flowKey]int{}
		m.known[node] = seen
	}
	var added []flowKey
	for _, f := range flows {
		f.Node = node
		if seen != nil {
			k := keyOf(&f)
			if j, ok := seen[k]; ok {
				m.dups[node]++
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
}

// addStats adds a session's statistics as node's.
func (m *merger) addStats(node string, ss *capture.Stats) {
	st := &m.res.Stats
	m.backends[ss.Backend] = true
	if ss.Iface != "" && !slices.Contains(m.ifaces, node+":"+ss.Iface) {
		m.ifaces = append(m.ifaces, node+":"+ss.Iface)
	}
	if ss.Attribution != "" && !slices.Contains(m.attrib, m.prefixFor(node)+ss.Attribution) {
		m.attrib = append(m.attrib, m.prefixFor(node)+ss.Attribution)
	}
	st.Files = append(st.Files, ss.Files...)
	if !m.single && !ss.Start.IsZero() {
		st.Spans = append(st.Spans, capture.Span{Node: node, Start: ss.Start, End: ss.End})
	}
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
		st.ReadErrors = append(st.ReadErrors, m.prefixFor(node)+e)
	}
	for _, w := range ss.Warnings {
		st.Warnings = append(st.Warnings, m.prefixFor(node)+w)
	}
}

// finish counts each flow found twice once, names backends and
// interfaces, and puts the flows in time order.
func (m *merger) finish(sessions []*Session) {
	st := &m.res.Stats
	for _, node := range slices.Sorted(maps.Keys(m.dups)) {
		d := m.dups[node]
		st.Flows -= min(st.Flows, uint64(d))
		st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d flow(s) recorded by two sessions of this node (their spans overlap) were counted once; packet and byte totals count the overlap twice", node, d))
	}
	st.Backend = strings.Join(slices.Sorted(maps.Keys(m.backends)), "+")
	if m.single {
		st.Iface = sessions[0].Stats.Iface
	} else {
		st.Iface = strings.Join(m.ifaces, ",")
	}
	st.Attribution = strings.Join(m.attrib, "; ")
	// Flows in time order, as a single capture would list them.
	flows := m.res.Flows
	sort.SliceStable(flows, func(a, b int) bool { return flows[a].Start.Before(flows[b].Start) })
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
