package analyze

import (
	"fmt"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// ruleKey is what decides which rules a flow can match, peers aside.
type ruleKey struct {
	out   bool
	proto uint8
	port  uint16 // server port; ICMP: the message type
}

type ruleHit struct {
	rule   int
	counts bool // evidence for the status (see rule.matchesFlow)
}

// ruleIndex remembers, per ruleKey, the rules a flow with that key
// matches, so each flow costs one map lookup rather than a scan of every
// requirement.
type ruleIndex struct {
	rules []rule
	hits  map[ruleKey][]ruleHit
}

func (x *ruleIndex) lookup(f *flow.Flow, v view) []ruleHit {
	k := ruleKey{out: v.dir == catalog.Out, proto: f.Proto, port: v.port}
	if hits, ok := x.hits[k]; ok {
		return hits
	}
	var hits []ruleHit
	for ri := range x.rules {
		if match, counts := x.rules[ri].matchesFlow(f, v); match {
			hits = append(hits, ruleHit{rule: ri, counts: counts})
		}
	}
	x.hits[k] = hits
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
