// Package catalog holds the vendors' network requirements as data: the
// schema, a validating loader for catalog and site files, and the bundled
// products taken from the vendors' published port lists, each requirement
// citing the text it comes from.
package catalog

import "net/netip"

// Direction says who opens the flow, seen from the gateway.
type Direction string

// Directions.
const (
	In  Direction = "in"  // the peer opens the flow to the gateway
	Out Direction = "out" // the gateway opens the flow to the peer
)

// Protocol is the transport a requirement is about.
type Protocol string

// Protocols.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	ICMP Protocol = "icmp"
)

// PortRange is an inclusive range [lo, hi]; a single port has lo == hi.
// It marshals to JSON as [lo, hi].
type PortRange [2]uint16

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r[0] && p <= r[1] }

// PeerKind says how a Peer constrains the other side of a flow.
type PeerKind string

// Peer kinds.
const (
	PeerAny  PeerKind = "any"  // anyone
	PeerZone PeerKind = "zone" // a named zone whose CIDRs come from the site file
	PeerHost PeerKind = "host" // a host name, "*." wildcards allowed
	PeerIP   PeerKind = "ip"   // an address or CIDR prefix
)

// Peer is one allowed party on the other side of a flow.
type Peer struct {
	Kind  PeerKind `json:"kind" yaml:"kind"`
	Value string   `json:"value,omitempty" yaml:"value,omitempty"`
}

// Condition names the optional feature that makes a requirement apply.
type Condition struct {
	Feature string `json:"feature" yaml:"feature"`
	// Default is whether the feature is assumed in use when the user has not
	// said either way.
	Default bool `json:"default" yaml:"default"`
}

// Source cites the vendor text a requirement comes from.
type Source struct {
	Document string `json:"document" yaml:"document"`
	Text     string `json:"text" yaml:"text"`
}

// Requirement is one flow a product needs: direction, protocol, server
// ports and who the peer may be.
type Requirement struct {
	ID        string      `json:"id"`
	Direction Direction   `json:"direction"`
	Protocol  Protocol    `json:"protocol"`
	Ports     []PortRange `json:"ports"`
	Peers     []Peer      `json:"peers"`
	Service   string      `json:"service"`
	Purpose   string      `json:"purpose"`
	Condition *Condition  `json:"condition"`
	Notes     []string    `json:"notes"`
	// OneWay marks a UDP exchange that never gets a reply (SNMP traps, a
	// broadcast): a datagram sent is the whole of it, so "no reply" is
	// not evidence of a block.
	OneWay bool `json:"oneway,omitempty"`
	// Admin marks the way administrators reach the product (its console
	// or web UI): a firewall export opens these ports, with SSH, HTTP and
	// HTTPS, to the management networks given (Product.AdminPorts).
	// Only inbound TCP requirements carry it.
	Admin  bool   `json:"admin,omitempty"`
	Source Source `json:"source"`
}

// Applies reports whether the requirement is in force given the features
// the user declared (true/false); features not in the map take the
// condition's default.
func (r *Requirement) Applies(features map[string]bool) bool {
	if r.Condition == nil {
		return true
	}
	if on, ok := features[r.Condition.Feature]; ok {
		return on
	}
	return r.Condition.Default
}

// Product is one vendor product's catalog.
type Product struct {
	Name         string        `json:"product"`
	Title        string        `json:"title,omitempty"`
	Requirements []Requirement `json:"requirements"`

	// features are the optional features the product's rows depend on,
	// in file order; read them with Features.
	features []Feature
}

// Site describes one installation: the gateway's own addresses, the
// CIDRs of named zones, and the optional features in use.
type Site struct {
	Hosts    []netip.Addr              `json:"hosts"`
	Zones    map[string][]netip.Prefix `json:"zones"`
	Features map[string]bool           `json:"features"`
}
