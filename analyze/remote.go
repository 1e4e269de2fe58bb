package analyze

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/catalog"
)

// The remote-side rule (docs/report.md "Remote-side failures"): a mail
// gateway sends to thousands of servers and some are always down. For an
// outbound requirement to any peer (or a wide zone), failures confined to
// a few peers that never worked, while the same port worked to many
// others, say nothing about the gateway's path: the requirement reads ok
// and lists those peers in RemoteSide.
const (
	// RemoteMinWorkedPeers is how many distinct peers the port must have
	// worked to.
	RemoteMinWorkedPeers = 10
	// RemoteMaxFailedPercent bounds the share of the distinct peers tried
	// (worked or failed) that failed: more is partial.
	RemoteMaxFailedPercent = 10
	// Wide zones: a zone holding a prefix at least this wide stands for
	// the internet, not for a vendor's or a customer's servers.
	wideZoneBits4 = 8
	wideZoneBits6 = 16
)

// wide reports whether a rule's peers let the remote-side rule apply:
// every peer is any or a configured zone holding an internet-wide prefix.
// A host:, an ip: or a zone the site does not define (it stands for
// servers someone named) judges each peer.
func (r *rule) wide() bool {
	for _, m := range r.peers {
		switch {
		case m.kind == catalog.PeerAny:
		case m.kind == catalog.PeerZone && len(m.prefixes) > 0:
			if !slices.ContainsFunc(m.prefixes, wideZonePrefix) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func wideZonePrefix(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() <= wideZoneBits4
	}
	return p.Bits() <= wideZoneBits6
}

// remoteSide applies the rule to a requirement's evidence (s: how its
// provisional flows resolve) and returns the peers it explains, worst
// first; nil when it does not apply. Exact counts decide, kept with the
// peers: a failing peer displaces a tracked one that never failed, so
// every failing peer is tracked unless the folded flows hold failures
// (then the rule does not apply); a peer tracked again after it was
// folded may have worked meanwhile (peerTable.worked), and counts as a
// peer that both failed and worked. One such peer, or any peer that both
// failed and worked, makes the requirement partial as before.
func remoteSide(r *rule, ev *evidence, s sides, site *catalog.Site) (down []PeerSeen, worked int) {
	if r.dir != catalog.Out || !r.wide() {
		return nil, 0
	}
	if rest := ev.peers.rest.resolved(s); rest.Failed() > 0 {
		return nil, 0
	}
	worked = ev.peers.foldedWorked()
	for i := range ev.peers.peers {
		p := &ev.peers.peers[i]
		c := p.counts.resolved(s)
		ok, failed := c.Established > 0 || p.foldedWorked, c.Failed() > 0
		switch {
		case ok && failed:
			return nil, 0 // failing and working in turn
		case ok:
			worked++
		case failed:
			names := slices.Clone(p.names)
			slices.Sort(names)
			down = append(down, PeerSeen{Addr: p.addr, Names: nonNil(names), Counts: c, Zones: zonesOf(p.addr, site)})
		}
	}
	if len(down) == 0 || worked < RemoteMinWorkedPeers || len(down)*100 > (worked+len(down))*RemoteMaxFailedPercent {
		return nil, 0
	}
	slices.SortFunc(down, func(a, b PeerSeen) int {
		return comparePeers(&peerAcc{addr: a.Addr, counts: a.Counts}, &peerAcc{addr: b.Addr, counts: b.Counts})
	})
	return down, worked
}

// remoteNote says which peers the remote-side rule explains, and how many
// peers the port worked to (about, when peers were folded).
func remoteNote(req *Requirement, worked int) string {
	addrs := make([]string, 0, 3)
	for i, p := range req.RemoteSide {
		if i == 3 {
			addrs = append(addrs, fmt.Sprintf("and %d more", len(req.RemoteSide)-3))
			break
		}
		addrs = append(addrs, p.Addr.String())
	}
	return fmt.Sprintf("did not answer (remote side): %s: %d peer(s) never worked while the port worked to %d others "+
		"(remote-side rule: at least %d peers worked, at most %d%% of those tried failed)", strings.Join(addrs, ", "),
		len(req.RemoteSide), worked, RemoteMinWorkedPeers, RemoteMaxFailedPercent)
}
