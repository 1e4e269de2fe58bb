//go:build !linux

package nftrules

import (
	"errors"

	"github.com/flowaudit/flowaudit/capture"
)

// Ruleset is empty here: nftables is Linux's.
type Ruleset struct{}

var errNoNftables = errors.New("read nftables ruleset: nftables needs Linux")

// Load always fails here.
func Load(string) (*Ruleset, error) { return nil, errNoNftables }

// Find names only the hook here.
func (*Ruleset) Find(q capture.RuleQuery) capture.RuleLocation {
	return capture.RuleLocation{Hook: q.Hook.String()}
}

// FindDropRule always fails here.
func FindDropRule(_ string, q capture.RuleQuery) (capture.RuleLocation, error) {
	return capture.RuleLocation{Hook: q.Hook.String()}, errNoNftables
}
