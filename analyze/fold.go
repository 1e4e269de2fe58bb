package analyze

import (
	"fmt"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// add counts one flow of the unexpected group key, which the report does
// not list.
func (g *foldedGroups) add(key unexpectedKey, f *flow.Flow, pending bool) {
	if g.keys == nil {
		g.keys = map[unexpectedKey]struct{}{}
	}
	g.keys[key] = struct{}{}
	vd := verdict{out: f.Outcome, pending: pending}
	if !pending {
		vd.prov = provisional(f, f.Outcome)
	}
	i := 0
	if key.out {
		i = 1
	}
	countOutcome(&g.counts[i], vd)
}

// total returns the folded groups' counts, each direction's resolved as
// the capture's coverage decides.
func (g *foldedGroups) total(cov *Coverage) Counts {
	c := g.counts[0].resolved(cov.sidesFor(catalog.In))
	addCounts(&c, g.counts[1].resolved(cov.sidesFor(catalog.Out)))
	return c
}

// foldWarnings say where the report counts peers or groups together
// instead of listing them.
func foldWarnings(rep *Report) []string {
	var ids []string
	peers, flows := 0, 0
	for _, r := range rep.Requirements {
		if r.FoldedCounts != nil {
			ids = append(ids, r.ID)
			peers += r.PeersFolded
			flows += r.FoldedCounts.Flows
		}
	}
	groups := 0
	for _, u := range rep.Unexpected {
		if u.FoldedCounts != nil {
			groups++
			peers += u.PeersFolded
			flows += u.FoldedCounts.Flows
		}
	}
	var out []string
	if len(ids) > 0 || groups > 0 {
		var where []string
		if len(ids) > 0 {
			list := strings.Join(ids, ", ")
			if len(ids) > 3 {
				list = fmt.Sprintf("%s and %d more", strings.Join(ids[:3], ", "), len(ids)-3)
			}
			where = append(where, fmt.Sprintf("%d requirement(s) (%s)", len(ids), list))
		}
		if groups > 0 {
			where = append(where, fmt.Sprintf("%d unexpected group(s)", groups))
		}
		out = append(out, fmt.Sprintf("peers folded: %s saw more distinct peers than a report keeps (%d per requirement, %d per unexpected group); "+
			"the flows of about %d other peers (%d flows) are counted together (peers_folded, folded_counts): every count stays exact",
			strings.Join(where, " and "), maxReqPeers, maxGroupPeers, peers, flows))
	}
	if g := rep.UnexpectedFolded; g != nil {
		out = append(out, fmt.Sprintf("unexpected groups folded: %d more group(s) than the %d listed, with %d flow(s), are counted together (unexpected_folded)",
			g.Groups, MaxUnexpected, g.Counts.Flows))
	}
	return out
}

// noiseNeverSeenWarning: a requirement never seen while noise went to its
// port. Noise never decides a verdict, but if those SYNs came from real
// clients whose answers do not get back, the requirement is broken.
func noiseNeverSeenWarning(id string, n int) string {
	return fmt.Sprintf("%s is never-seen, but the gateway answered %d inbound SYN(s) to its port with a SYN-ACK that was never acknowledged, "+
		"set aside as backscatter (see noise): if they came from real clients, not spoofed sources, the answers do not get back "+
		"(check the return route) and the requirement is not working", id, n)
}

// overflowWarning: the scanner test's table was full.
func overflowWarning(n int) string {
	return fmt.Sprintf("the scanner test's source table was full: %d inbound flow(s) were judged before their sources had tried %d ports "+
		"(docs/report.md, Internet noise): if some came from scanners, they show as failures or unexpected flows", n, ScanPorts)
}
