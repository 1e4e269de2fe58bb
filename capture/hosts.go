package capture

import (
	"fmt"
	"net/netip"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// The gateway's own addresses decide every flow's direction. Where they
// came from is a typed value, recorded in sessions and read by reports;
// the policy that decides them (precedence, inference) and the words that
// describe them are package analyze's (ResolveHosts, InferHosts,
// HostsHow). The type is here, below both, because session files record
// it and analyze, which must build on any system, cannot import the
// session package (it writes files).

// HostsOrigin says where gateway addresses came from.
type HostsOrigin uint8

// Origins, in the order of precedence analyze.ResolveHosts applies
// (OriginNone aside).
const (
	// OriginNone: nothing decided them: the audit infers them from the
	// traffic it is given.
	OriginNone HostsOrigin = iota
	// OriginFlag: given on the command line (--host).
	OriginFlag
	// OriginSite: the site file's hosts (HostsDecision.SiteFile).
	OriginSite
	// OriginInterface: the capture interface's own addresses
	// (HostsDecision.Iface), all those it had while capturing.
	OriginInterface
	// OriginSessions: what the sessions a report reads recorded, or
	// inferred from each session's own flows when it recorded none
	// (HostsDecision.Sessions, one per session).
	OriginSessions
	// OriginInferred: inferred from the traffic (HostsDecision.Inference).
	OriginInferred
	// OriginRecorded: a session recorded them without a known origin
	// (an older or hand-made file; HostsDecision.Note keeps its words).
	OriginRecorded
)

var originNames = [...]string{"none", "flag", "site", "interface", "sessions", "inferred", "recorded"}

// String returns the origin's name as session files write it: "none",
// "flag", "site", "interface", "sessions", "inferred" or "recorded".
func (o HostsOrigin) String() string {
	if int(o) < len(originNames) {
		return originNames[o]
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// MarshalText writes the origin's name.
func (o HostsOrigin) MarshalText() ([]byte, error) {
	if int(o) >= len(originNames) {
		return nil, fmt.Errorf("unknown hosts origin %d", uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText reads an origin's name.
func (o *HostsOrigin) UnmarshalText(b []byte) error {
	for i, n := range originNames {
		if string(b) == n {
			*o = HostsOrigin(i)
			return nil
		}
	}
	return fmt.Errorf("unknown hosts origin %q (want one of %v)", b, originNames[:])
}

// HostsDecision is a set of gateway addresses and where they came from,
// with the detail each origin has. The zero value is OriginNone: no
// addresses decided.
type HostsDecision struct {
	Addrs  []netip.Addr
	Origin HostsOrigin
	// Iface is the interface of OriginInterface.
	Iface string
	// SiteFile is the site file of OriginSite as it was given (may be
	// empty when unknown).
	SiteFile string
	// Inference is how OriginInferred chose them; nil when an older
	// session recorded only words (Note).
	Inference *HostsInference
	// Sessions are the decisions of each session of OriginSessions, in
	// the order the report reads them.
	Sessions []SessionHosts
	// Note keeps the words of an older session file that recorded its
	// addresses with no origin this version knows (OriginRecorded), or an
	// inference it did not detail (OriginInferred): shown as they are.
	Note string
}

// Inferred reports whether any of d's addresses were inferred from the
// traffic: d's own, or those of any of its sessions.
func (d *HostsDecision) Inferred() bool {
	if d.Origin == OriginInferred {
		return true
	}
	for i := range d.Sessions {
		if d.Sessions[i].Hosts.Inferred() {
			return true
		}
	}
	return false
}

// HostsInference is how addresses were inferred: from the link layer
// when the capture had one (every address of the gateway's MAC, or every
// address the capturing host sent from), else per IP family the unicast
// address taking part in the most flows, kept when it takes part in at
// least half of its family's flows (else the busier family's alone, a
// guess). Each address says how it was found (HostCount.By).
type HostsInference struct {
	// Chosen are the addresses kept with their counts, IPv4 first; empty
	// when the traffic had no candidate address.
	Chosen []HostCount
	// Guess is set when no address took part in half of its family's
	// flows: Chosen holds the busiest alone.
	Guess bool
}

// HostCount is one inferred address and the flows it takes part in.
type HostCount struct {
	Addr netip.Addr
	// Flows counts the flows it takes part in, FamilyFlows those of its IP
	// family (housekeeping left out of both).
	Flows       int
	FamilyFlows int
	// By is how the address was found; MAC is the gateway's MAC for ByMAC.
	By  HostsBy
	MAC flow.MAC
}

// HostsBy says how an inferred address was found.
type HostsBy uint8

const (
	// ByFlows: the address taking part in most flows (the fallback when
	// the link layer says nothing: raw IP, the eBPF backend).
	ByFlows HostsBy = iota
	// ByMAC: the address sends from, or is reached at, the gateway's MAC
	// (Ethernet): the MAC most flows' local side uses that is not a
	// router's (a router's MAC carries many addresses).
	ByMAC
	// ByOutgoing: the capturing host sent packets from the address (the
	// SLL/SLL2 packet type "outgoing").
	ByOutgoing
)

var byNames = [...]string{"flows", "mac", "outgoing"}

// String returns the name sessions write: "flows", "mac" or "outgoing".
func (b HostsBy) String() string {
	if int(b) < len(byNames) {
		return byNames[b]
	}
	return fmt.Sprintf("by(%d)", uint8(b))
}

// ParseHostsBy reads a name String writes; "" is ByFlows (older
// sessions recorded no way).
func ParseHostsBy(s string) (HostsBy, error) {
	if s == "" {
		return ByFlows, nil
	}
	for i, n := range byNames {
		if s == n {
			return HostsBy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown way %q (want one of %v)", s, byNames[:])
}

// SessionHosts is one session's gateway addresses in a report over
// sessions: Node names the session (session.NodeName).
type SessionHosts struct {
	Node  string
	Hosts HostsDecision
}
