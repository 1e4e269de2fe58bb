package capture

import (
	"fmt"
	"net/netip"
	"strconv"
)

// RuleQuery is a locally dropped flow whose nftables rule is looked for:
// its packets' protocol, source and destination (ports as in LocalDrop),
// and the hook they were dropped in (DropInput: input, DropOutput:
// output).
type RuleQuery struct {
	Hook  DropDirection
	Proto uint8
	Src   netip.AddrPort
	Dst   netip.AddrPort
}

// RuleQueryOf is the query for a local drop.
func RuleQueryOf(d LocalDrop) RuleQuery {
	return RuleQuery{Hook: d.Direction, Proto: d.Proto, Src: d.Src, Dst: d.Dst}
}

// RuleLocation says where in the nftables ruleset a dropped flow can have
// been dropped. When no rule or policy could be named, only Hook is set
// (Found is false) and String says "a rule in the <hook> hook".
type RuleLocation struct {
	// Hook is the named chain's hook: "prerouting" or "input" for an input
	// drop, "output" or "postrouting" for an output one; when nothing was
	// found, "input" or "output".
	Hook   string `json:"hook"`
	Family string `json:"family,omitempty"` // "inet", "ip" or "ip6"
	Table  string `json:"table,omitempty"`
	Chain  string `json:"chain,omitempty"`
	// Handle is the rule's handle (`nft -a list ruleset`); 0 for a policy.
	Handle uint64 `json:"handle,omitempty"`
	// Policy is set when no rule matched and the chain's policy drops.
	Policy bool `json:"policy,omitempty"`
	// Verdict is "drop" or "reject".
	Verdict string `json:"verdict,omitempty"`
	// Certain is set when everything the rule (and any rule jumping to
	// its chain) matches on was checked against the flow and holds:
	// addresses, ports, protocol. Otherwise the rule matches the flow's
	// port but also on what a drop record does not tell (connection
	// state, interface, marks, rates...). For a policy, Certain says no
	// earlier rule that might have accepted or dropped the flow was left
	// undecided.
	Certain bool `json:"certain,omitempty"`
}

// Found says whether a table and chain were named.
func (l RuleLocation) Found() bool { return l.Chain != "" }

// String names the rule: "table inet fw chain out handle 4 (drop)",
// "table inet fw chain in policy drop", or "a rule in the output hook".
func (l RuleLocation) String() string {
	if !l.Found() {
		return fmt.Sprintf("a rule in the %s hook", l.Hook)
	}
	s := "table " + l.Family + " " + l.Table + " chain " + l.Chain
	if l.Policy {
		return s + " policy drop"
	}
	return s + " handle " + strconv.FormatUint(l.Handle, 10) + " (" + l.Verdict + ")"
}
