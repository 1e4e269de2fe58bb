package catalog

import (
	"fmt"
	"strings"
)

// nftCheck refuses a product that has anything WriteNFTables would write
// outside the character sets it allows. A product that Parse returned
// always passes; the check guards products built or edited in Go.
func nftCheck(p *Product) error {
	if !validName(p.Name) {
		return fmt.Errorf("product name %q: use lower-case letters, digits and dashes", Visible(p.Name))
	}
	for _, f := range p.features {
		if !validName(f.Name) {
			return fmt.Errorf("%s: feature name %q: use lower-case letters, digits and dashes", p.Name, Visible(f.Name))
		}
	}
	for i := range p.Requirements {
		if err := nftCheckRequirement(&p.Requirements[i]); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	return nil
}

func nftCheckRequirement(r *Requirement) error {
	if !validID(r.ID) {
		return fmt.Errorf("requirement id %q: want at most %d lower-case letters, digits, dashes and one slash", Visible(r.ID), MaxIDLen)
	}
	if r.Direction != In && r.Direction != Out {
		return fmt.Errorf("%s: direction %q: want in or out", r.ID, Visible(string(r.Direction)))
	}
	switch r.Protocol {
	case ICMP:
	case TCP, UDP:
		if len(r.Ports) == 0 {
			return fmt.Errorf("%s: %s without ports", r.ID, r.Protocol)
		}
		for _, pr := range r.Ports {
			if pr[0] == 0 || pr[0] > pr[1] {
				return fmt.Errorf("%s: bad port range %d-%d", r.ID, pr[0], pr[1])
			}
		}
	default:
		return fmt.Errorf("%s: protocol %q: want tcp, udp or icmp", r.ID, Visible(string(r.Protocol)))
	}
	if r.Condition != nil && !validName(r.Condition.Feature) {
		return fmt.Errorf("%s: condition %q: use lower-case letters, digits and dashes", r.ID, Visible(r.Condition.Feature))
	}
	for _, peer := range r.Peers {
		ok := false
		switch peer.Kind {
		case PeerAny:
			ok = true
		case PeerZone:
			ok = validName(peer.Value)
		case PeerHost:
			ok = validHost(peer.Value)
		case PeerIP:
			_, ok = peer.Prefix()
		}
		if !ok {
			return fmt.Errorf("%s: peer %q cannot go into an nftables ruleset", r.ID, Visible(peer.String()))
		}
	}
	return nil
}

// validID: what Parse makes (PRODUCT/DIR-PROTO[-PORTS]-NAME), at most
// MaxIDLen bytes of lower-case letters, digits, dashes and one slash.
func validID(s string) bool {
	prod, rest, ok := strings.Cut(s, "/")
	if !ok || len(s) > MaxIDLen || !validName(prod) || rest == "" {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
