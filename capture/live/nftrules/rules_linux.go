package nftrules

import (
	"cmp"
	"fmt"
	"os"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
)

// Ruleset is a read-only copy of one network namespace's nftables
// ruleset: the tables of families inet, ip and ip6 (the ones that see IP
// packets at the input and output hooks; iptables-nft writes its rules
// there too), with their chains, rules and sets. Load reads it
// once; Find only reads it, so a Ruleset is safe for concurrent use.
type Ruleset struct {
	chains map[chainKey]*nftChain
	base   []*nftChain // base chains on the four IP hooks, by hook then priority
}

type chainKey struct {
	family nftables.TableFamily
	table  string
	chain  string
}

type nftChain struct {
	key        chainKey
	hook       uint32
	prio       int32
	policyDrop bool
	rules      []*nftables.Rule
	sets       map[string]*nftSet // the table's sets, by name
}

// Load reads, over netlink and never changing anything, the
// ruleset of the network namespace whose nsfs file is netns
// (/run/netns/NAME, /proc/PID/ns/net; "" is the calling thread's).
func Load(netns string) (*Ruleset, error) {
	if netns == "" {
		netns = "/proc/thread-self/ns/net"
	}
	f, err := os.Open(netns)
	if err != nil {
		return nil, fmt.Errorf("read nftables ruleset: %w", err)
	}
	defer f.Close()
	conn, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		return nil, fmt.Errorf("read nftables ruleset of %s: %w", netns, err)
	}
	defer conn.CloseLasting()
	rs, err := readRuleset(conn)
	if err != nil {
		return nil, fmt.Errorf("read nftables ruleset of %s: %w", netns, err)
	}
	return rs, nil
}

// ipFamily says whether a table family sees IP packets at the IP hooks.
func ipFamily(f nftables.TableFamily) bool {
	return f == nftables.TableFamilyINet || f == nftables.TableFamilyIPv4 || f == nftables.TableFamilyIPv6
}

func readRuleset(conn *nftables.Conn) (*Ruleset, error) {
	tables, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	sets := map[chainKey]map[string]*nftSet{} // by family and table
	for _, t := range tables {
		if !ipFamily(t.Family) {
			continue
		}
		ts, err := readSets(conn, t)
		if err != nil {
			return nil, err
		}
		sets[chainKey{family: t.Family, table: t.Name}] = ts
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	rs := &Ruleset{chains: map[chainKey]*nftChain{}}
	for _, c := range chains {
		if c.Table == nil || !ipFamily(c.Table.Family) {
			continue
		}
		rules, err := conn.GetRules(c.Table, c)
		if err != nil {
			return nil, fmt.Errorf("list rules of chain %s in table %s: %w", c.Name, c.Table.Name, err)
		}
		nc := &nftChain{key: chainKey{c.Table.Family, c.Table.Name, c.Name}, rules: rules,
			sets: sets[chainKey{family: c.Table.Family, table: c.Table.Name}]}
		rs.chains[nc.key] = nc
		if c.Hooknum == nil || hookName(uint32(*c.Hooknum)) == "" {
			continue
		}
		nc.hook = uint32(*c.Hooknum)
		if c.Priority != nil {
			nc.prio = int32(*c.Priority)
		}
		nc.policyDrop = c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop
		rs.base = append(rs.base, nc)
	}
	slices.SortStableFunc(rs.base, func(a, b *nftChain) int {
		return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(a.key.family, b.key.family),
			cmp.Compare(a.key.table, b.key.table), cmp.Compare(a.key.chain, b.key.chain))
	})
	return rs, nil
}

// readSets reads a table's sets (anonymous ones too: `{22, 80}`) and
// their elements.
func readSets(conn *nftables.Conn, t *nftables.Table) (map[string]*nftSet, error) {
	list, err := conn.GetSets(t)
	if err != nil {
		return nil, fmt.Errorf("list sets of table %s: %w", t.Name, err)
	}
	out := make(map[string]*nftSet, len(list))
	for _, s := range list {
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("list elements of set %s in table %s: %w", s.Name, t.Name, err)
		}
		out[s.Name] = &nftSet{set: s, elems: elems}
	}
	return out, nil
}

// hookName names the netfilter IP hooks a drop can come from.
func hookName(h uint32) string {
	switch h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	}
	return ""
}

// familyName is nft's name of a table family.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	}
	return fmt.Sprintf("family-%d", f)
}

// FindDropRule reads the ruleset of netns (see Load) and finds
// where q can have been dropped.
func FindDropRule(netns string, q capture.RuleQuery) (capture.RuleLocation, error) {
	rs, err := Load(netns)
	if err != nil {
		return capture.RuleLocation{Hook: q.Hook.String()}, err
	}
	return rs.Find(q), nil
}

// Find names the rule or chain policy that drops the flow of q, in the
// order the kernel runs them: for an input drop the prerouting then the
// input base chains, for an output drop the output then the postrouting
// ones, each by priority, following jumps and gotos. A rule is named when
// its verdict is drop or reject and every match it makes holds for the
// flow, or holds on the port while the rest cannot be told from a drop
// record (RuleLocation.Certain says which). An accept that certainly
// holds ends its base chain, as in the kernel. When no rule is named, the
// first base chain whose policy is drop is; otherwise only the hook.
func (rs *Ruleset) Find(q capture.RuleQuery) capture.RuleLocation {
	var hooks []uint32
	switch q.Hook {
	case capture.DropInput:
		hooks = []uint32{unix.NF_INET_PRE_ROUTING, unix.NF_INET_LOCAL_IN}
	case capture.DropOutput:
		hooks = []uint32{unix.NF_INET_LOCAL_OUT, unix.NF_INET_POST_ROUTING}
	}
	p := newPacket(q)
	for _, h := range hooks {
		for _, c := range rs.base {
			if c.hook != h || !familyFits(c.key.family, p.nfproto) {
				continue
			}
			loc, out, sure := rs.walk(c, &p, 0)
			switch {
			case out == outFound:
				loc.Hook = hookName(h) // the base chain's: c may be a chain jumped to
				return loc
			case out == outEnd && c.policyDrop:
				return capture.RuleLocation{Hook: hookName(h), Family: familyName(c.key.family), Table: c.key.table,
					Chain: c.key.chain, Policy: true, Verdict: "drop", Certain: sure}
			}
		}
	}
	return capture.RuleLocation{Hook: q.Hook.String()}
}

func familyFits(f nftables.TableFamily, nfproto byte) bool {
	return f == nftables.TableFamilyINet || byte(f) == nfproto
}

// Outcomes of walking a chain.
const (
	outEnd      = iota // fell off its end (or returned)
	outAccepted        // certainly accepted (or queued, stolen)
	outFound           // a dropping rule was found
)

// maxJumps bounds jump/goto nesting (the kernel allows 16).
const maxJumps = 16

// walk runs chain c's rules over p. sure is false when a rule that might
// have ended the walk (unknown match, terminal verdict) was passed over.
func (rs *Ruleset) walk(c *nftChain, p *packet, depth int) (loc capture.RuleLocation, out int, sure bool) {
	sure = true
	for _, r := range c.rules {
		e := evalRule(r, p, c.sets)
		if e.match == tFalse || e.verdict == nil {
			continue
		}
		certain := e.match == tTrue
		switch e.verdict.Kind {
		case expr.VerdictDrop:
			if certain || e.on[fPort] {
				return rs.ruleLoc(c, r, e), outFound, sure
			}
		case expr.VerdictAccept, expr.VerdictStolen, expr.VerdictQueue:
			if certain {
				return loc, outAccepted, sure
			}
		case expr.VerdictReturn:
			if certain {
				return loc, outEnd, sure
			}
		case expr.VerdictJump, expr.VerdictGoto:
			sub := rs.chains[chainKey{c.key.family, c.key.table, e.verdict.Chain}]
			if sub == nil || depth >= maxJumps {
				break
			}
			l, o, s := rs.walk(sub, p, depth+1)
			if o == outFound {
				l.Certain = l.Certain && certain
				return l, outFound, sure && s
			}
			if certain && (o == outAccepted || e.verdict.Kind == expr.VerdictGoto) {
				return loc, o, sure && s
			}
			sure = sure && s
			continue
		}
		sure = sure && certain
	}
	return loc, outEnd, sure
}

// ruleLoc names a dropping rule (Find sets the hook).
func (rs *Ruleset) ruleLoc(c *nftChain, r *nftables.Rule, e ruleEval) capture.RuleLocation {
	v := "drop"
	if e.reject {
		v = "reject"
	}
	return capture.RuleLocation{Family: familyName(c.key.family), Table: c.key.table, Chain: c.key.chain,
		Handle: r.Handle, Verdict: v, Certain: e.match == tTrue}
}
