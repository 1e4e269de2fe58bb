//go:build !linux

package capture

import "errors"

// Ruleset is empty here: nftables is Linux's.
type Ruleset struct{}

var errNoNftables = errors.New("read nftables ruleset: nftables needs Linux")

// LoadRuleset always fails here.
func LoadRuleset(string) (*Ruleset, error) { return nil, errNoNftables }

// Find names only the hook here.
func (*Ruleset) Find(q RuleQuery) RuleLocation { return RuleLocation{Hook: q.Hook.String()} }

// FindDropRule always fails here.
func FindDropRule(_ string, q RuleQuery) (RuleLocation, error) {
	return RuleLocation{Hook: q.Hook.String()}, errNoNftables
}
