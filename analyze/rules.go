package analyze

import (
	"fmt"
	"slices"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// ruleKey is what decides which rules a flow can match, peers aside.
type ruleKey struct {
	out   bool
	proto uint8
	// class is the server port's class for TCP and UDP (see portClasses),
	// the message type for ICMP (echo or not changes the hits), and the
	// port as it is for other protocols, which no rule matches.
	class uint16
}

type ruleHit struct {
	rule   int
	counts bool // evidence for the status (see rule.matchesFlow)
}

// maxCachedHits bounds the hits the index keeps (16 bytes each). Only a
// catalog of many nested port ranges, scanned port by port, gets near
// it; past it, lookups scan the rules without remembering the answer.
// A variable only so that a test can lower it.
var maxCachedHits = 1 << 20

// ruleIndex remembers, per ruleKey, the rules a flow with that key
// matches, so each flow costs one map lookup rather than a scan of every
// requirement. Keys are port classes, not ports, so that a scan of every
// port costs what a scan of one does: a rule for 1-65535 makes one
// entry, as a rule for port 25 does, and the map holds at most a few
// entries per requirement, whatever the traffic.
type ruleIndex struct {
	rules  []rule
	bounds []uint16 // sorted: every range's first port and the port after its last
	hits   map[ruleKey][]ruleHit
	cached int
}

func newRuleIndex(rules []rule) ruleIndex {
	var b []uint16
	for i := range rules {
		for _, pr := range rules[i].ports {
			b = append(b, pr[0])
			if pr[1] < 65535 {
				b = append(b, pr[1]+1)
			}
		}
	}
	slices.Sort(b)
	return ruleIndex{rules: rules, bounds: slices.Compact(b), hits: map[ruleKey][]ruleHit{}}
}

// portClass numbers the run of ports between two bounds that port falls
// in: every port of a class is in the same rules' ranges.
func (x *ruleIndex) portClass(port uint16) uint16 {
	i, found := slices.BinarySearch(x.bounds, port)
	if found {
		i++
	}
	return uint16(i)
}

func (x *ruleIndex) lookup(f *flow.Flow, v view) []ruleHit {
	k := ruleKey{out: v.dir == catalog.Out, proto: f.Proto, class: v.port}
	if f.Proto == flow.ProtoTCP || f.Proto == flow.ProtoUDP {
		k.class = x.portClass(v.port)
	}
	if hits, ok := x.hits[k]; ok {
		return hits
	}
	var hits []ruleHit
	for ri := range x.rules {
		if match, counts := x.rules[ri].matchesFlow(f, v); match {
			hits = append(hits, ruleHit{rule: ri, counts: counts})
		}
	}
	if x.cached+len(hits)+1 <= maxCachedHits {
		x.hits[k] = hits
		x.cached += len(hits) + 1
	}
	return hits
}

// compileRules fills rep.Requirements (catalog order, products in the
// order given, duplicates skipped) and returns the matching rules.
func compileRules(rep *Report, opts Options, features map[string]bool) ([]rule, error) {
	var rules []rule
	seen := map[string]bool{}
	rep.Features = map[string]bool{}
	for _, p := range opts.Products {
		if p == nil || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		rep.Products = append(rep.Products, ProductSummary{Name: p.Name, Title: p.Title, Requirements: len(p.Requirements)})
		for i := range p.Requirements {
			cr := &p.Requirements[i]
			peers, unconf, err := compilePeers(cr.Peers, opts.Site)
			if err != nil {
				return nil, fmt.Errorf("audit: requirement %s: %w", cr.ID, err)
			}
			applies := cr.Applies(features)
			if cr.Condition != nil {
				rep.Features[cr.Condition.Feature] = applies
			}
			rules = append(rules, rule{product: p.Name, id: cr.ID, dir: cr.Direction,
				proto: cr.Protocol, ports: cr.Ports, peers: peers, applies: applies, oneway: cr.OneWay, unconfZone: unconf})
			rep.Requirements = append(rep.Requirements, Requirement{
				Product: p.Name, ID: cr.ID, Direction: cr.Direction, Protocol: cr.Protocol,
				Ports: nonNil(cr.Ports), Service: cr.Service, Purpose: cr.Purpose, Allowed: nonNil(cr.Peers),
				Condition: cr.Condition, Notes: nonNil(cr.Notes), Source: cr.Source,
				UnconfiguredZones: nonNil(unconf), OneWay: cr.OneWay,
			})
		}
	}
	return rules, nil
}
