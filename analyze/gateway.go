package analyze

import (
	"cmp"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/text"
)

// The gateway-address policy: every source of gateway addresses, one
// precedence, and the words that describe the result. Commands gather
// the sources; only this file ranks them, and only HostsHow words them.

// HostsInput are the sources of gateway addresses a command may have.
type HostsInput struct {
	// Flag are the addresses given with --host.
	Flag []netip.Addr
	// Site is the site file (its hosts), SiteFile its name as given.
	Site     *catalog.Site
	SiteFile string
	// Iface is the capture interface, IfaceAddrs its own addresses (all
	// those it had while capturing).
	Iface      string
	IfaceAddrs []netip.Addr
	// Sessions are the sessions a report reads, in order.
	Sessions []SessionInput
}

// SessionInput is one session as ResolveHosts sees it: its node name, the
// addresses its recorder decided (OriginNone when it had none), and its
// flows, read when they must be inferred.
type SessionInput struct {
	Node     string
	Recorded capture.HostsDecision
	// Flows iterates over the session's flows; InferHosts may read it
	// more than once. Nil: the session's addresses are not inferred.
	Flows iter.Seq[*flow.Flow]
}

// ResolveHosts decides the gateway addresses: --host, else the site
// file's hosts, else the capture interface's addresses (link-local and
// loopback ones left out), else the
// sessions', else none (OriginNone: the audit infers them from the
// traffic it is given). Sessions give the union of what each recorded;
// a session that recorded none has its own inferred from its own flows,
// so each node of a cluster keeps its address (one inference over the
// merged flows would keep only the busiest node's). One session that
// recorded none is inferred alone, which is the audit's own inference
// (OriginInferred, as replay of its capture says), read beforehand so the
// audit need not hold its flows.
func ResolveHosts(in HostsInput) capture.HostsDecision {
	switch {
	case len(in.Flag) > 0:
		return capture.HostsDecision{Addrs: in.Flag, Origin: capture.OriginFlag}
	case in.Site != nil && len(in.Site.Hosts) > 0:
		return capture.HostsDecision{Addrs: in.Site.Hosts, Origin: capture.OriginSite, SiteFile: in.SiteFile}
	case len(routable(in.IfaceAddrs)) > 0:
		return capture.HostsDecision{Addrs: routable(in.IfaceAddrs), Origin: capture.OriginInterface, Iface: in.Iface}
	case len(in.Sessions) == 1 && len(in.Sessions[0].Recorded.Addrs) == 0:
		if in.Sessions[0].Flows == nil {
			return capture.HostsDecision{}
		}
		return InferHosts(in.Sessions[0].Flows)
	case len(in.Sessions) > 0:
		return sessionsHosts(in.Sessions)
	}
	return capture.HostsDecision{}
}

// routable leaves out of an interface's addresses those that are never
// gateway addresses by default: link-local (fe80::/10, 169.254.0.0/16;
// neighbour discovery, not mail) and loopback. Given with --host or in a
// site file they count.
func routable(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if a.Unmap().IsLinkLocalUnicast() || a.Unmap().IsLoopback() {
			continue
		}
		out = append(out, a)
	}
	return out
}

// sessionsHosts is the union of the sessions' addresses, each session's
// decision kept: recorded, else inferred from its own flows.
func sessionsHosts(sessions []SessionInput) capture.HostsDecision {
	d := capture.HostsDecision{Origin: capture.OriginSessions}
	seen := map[netip.Addr]bool{}
	for _, s := range sessions {
		h := s.Recorded
		if len(h.Addrs) == 0 && s.Flows != nil {
			h = InferHosts(s.Flows)
		}
		d.Sessions = append(d.Sessions, capture.SessionHosts{Node: s.Node, Hosts: h})
		for _, a := range h.Addrs {
			if !seen[a] {
				seen[a] = true
				d.Addrs = append(d.Addrs, a)
			}
		}
	}
	slices.SortFunc(d.Addrs, netip.Addr.Compare)
	return d
}

// HowStyle is the voice HostsHow speaks in.
type HowStyle uint8

const (
	// HowReport: the report's hosts.how ("given with --host", "inferred
	// from the traffic (the address taking part in most flows): ...").
	HowReport HowStyle = iota
	// HowShort: the words for one session inside a list of sessions, and
	// for the capture's start message ("--host", "site file F",
	// "inferred from its own flows: ...").
	HowShort
)

// HostsHow says where d's addresses came from. Reports, sessions and the
// capture command describe gateway addresses with it and nothing else, so
// the words can change without anything that reads the origin noticing.
func HostsHow(d *capture.HostsDecision, style HowStyle) string {
	short := style == HowShort
	switch d.Origin {
	case capture.OriginFlag:
		return map[bool]string{false: "given with --host", true: "--host"}[short]
	case capture.OriginSite:
		if short {
			return strings.TrimSpace("site file " + d.SiteFile)
		}
		return "from the site file"
	case capture.OriginInterface:
		return "interface " + d.Iface + " addresses"
	case capture.OriginInferred:
		return inferredHow(d, short)
	case capture.OriginRecorded:
		return cmp.Or(d.Note, "recorded in the session")
	case capture.OriginSessions:
		return sessionsHow(d)
	}
	return ""
}

// inferredHow describes an inference: its counts and how each address
// was found, or the words an older session recorded for it.
func inferredHow(d *capture.HostsDecision, short bool) string {
	prefix, sep := "inferred from the traffic", "; "
	if short {
		prefix, sep = "inferred from its own flows", ", "
	}
	inf := d.Inference
	switch {
	case inf == nil:
		return prefix + ": " + d.Note
	case len(inf.Chosen) == 0:
		return prefix + ": no candidate address"
	}
	// One way for every address is said once, before them ("the address
	// taking part in most flows" in a report, nothing in the short words,
	// as before the link layer was read); else each says its own.
	first := inf.Chosen[0]
	same := !slices.ContainsFunc(inf.Chosen, func(c capture.HostCount) bool { return c.By != first.By || c.MAC != first.MAC })
	switch {
	case same && first.By == capture.ByFlows && !short:
		prefix += " (the address taking part in most flows)"
	case same && first.By != capture.ByFlows:
		prefix += " (" + foundHow(first) + ")"
	}
	parts := make([]string, len(inf.Chosen))
	for i, c := range inf.Chosen {
		fam := map[bool]string{true: "IPv4", false: "IPv6"}[c.Addr.Is4()]
		found := ""
		if !same {
			found = " (" + foundHow(c) + ")"
		}
		parts[i] = fmt.Sprintf("%s%s in %d of %d %s flows", c.Addr, found, c.Flows, c.FamilyFlows, fam)
		if inf.Guess {
			parts[i] += " (a guess: no address takes part in half of its family's flows)"
		}
	}
	return prefix + ": " + strings.Join(parts, sep)
}

// foundHow says how one inferred address was found: "link layer: source
// MAC 02:00:00:00:00:10", "link layer: outgoing (SLL)", "most flows".
func foundHow(c capture.HostCount) string {
	switch c.By {
	case capture.ByMAC:
		return "link layer: source MAC " + c.MAC.String()
	case capture.ByOutgoing:
		return "link layer: outgoing (SLL)"
	}
	return "most flows"
}

// HostFound is one gateway address and how it was found, in words.
type HostFound struct {
	Addr netip.Addr `json:"addr"`
	How  string     `json:"how"`
}

// HostsFound lists how each inferred address of d was found (nil when d
// was not inferred, or an older session recorded only words).
func HostsFound(d *capture.HostsDecision) []HostFound {
	var out []HostFound
	add := func(h *capture.HostsDecision) {
		if h.Origin != capture.OriginInferred || h.Inference == nil {
			return
		}
		for _, c := range h.Inference.Chosen {
			if !slices.ContainsFunc(out, func(f HostFound) bool { return f.Addr == c.Addr }) {
				out = append(out, HostFound{Addr: c.Addr, How: foundHow(c)})
			}
		}
	}
	add(d)
	for i := range d.Sessions {
		add(&d.Sessions[i].Hosts)
	}
	return out
}

// sessionsHow lists each session's addresses and where they came from:
// "session: --host" for one, "sessions: gw1 192.0.2.10 (--host); gw2
// 192.0.2.11 (inferred from its own flows: ...)" for several.
func sessionsHow(d *capture.HostsDecision) string {
	if len(d.Sessions) == 1 {
		return "session: " + HostsHow(&d.Sessions[0].Hosts, HowShort)
	}
	var lines []string
	for i := range d.Sessions {
		s := &d.Sessions[i]
		how := "recorded in the session"
		if s.Hosts.Origin != capture.OriginNone {
			how = HostsHow(&s.Hosts, HowShort)
		}
		line := s.Node + " " + cmp.Or(text.Addrs(s.Hosts.Addrs), "none") + " (" + how + ")"
		if !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	return "sessions: " + strings.Join(lines, "; ")
}

// sessionWarnings warn, per session whose addresses were inferred (by
// the report or by its recorder), that they are a guess.
func sessionWarnings(d *capture.HostsDecision) []string {
	var ws []string
	for _, s := range d.Sessions {
		if s.Hosts.Inferred() {
			ws = append(ws, fmt.Sprintf("gateway addresses of %s were inferred from its own flows (%s): give --host or a site file to be sure",
				s.Node, cmp.Or(text.Addrs(s.Hosts.Addrs), "none found")))
		}
	}
	return ws
}
