package nftrules

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/internal/labtest"
)

var nsSeq atomic.Int64

// testNetns creates a network namespace that the test deletes at its end,
// and returns its name.
func testNetns(t *testing.T) string {
	t.Helper()
	labtest.RequireRoot(t, "nftables in network namespaces")
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("need %s: %v", tool, err)
		}
	}
	ns := fmt.Sprintf("fa-nft-%d-%d", os.Getpid(), nsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	return ns
}

// inNs runs a command inside ns and fails the test if it fails.
func inNs(t *testing.T, ns, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var handleRe = regexp.MustCompile(`# handle (\d+)`)

// handleOf returns the handle of the rule whose line in `nft -a list
// ruleset` holds text.
func handleOf(t *testing.T, ns, text string) string {
	t.Helper()
	for _, line := range strings.Split(inNs(t, ns, "", "nft", "-a", "list", "ruleset"), "\n") {
		if strings.Contains(line, text) {
			if m := handleRe.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no rule with %q in:\n%s", text, inNs(t, ns, "", "nft", "-a", "list", "ruleset"))
	return ""
}

func q(hook capture.DropDirection, proto uint8, src, dst string) capture.RuleQuery {
	return capture.RuleQuery{Hook: hook, Proto: proto, Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst)}
}

const (
	gw4, peer4 = "203.0.113.10:40000", "198.51.100.7"
	gw6, peer6 = "[2001:db8:1::10]:40000", "[2001:db8:7::7]"
)

// nftCase is a ruleset and what Find must say for some queries. want is
// "" for "no rule named", "policy <table> <chain>" for a chain policy, or
// "<family> <table> <chain> <verdict> <marker>" for the rule whose comment
// is marker, or whose listing holds lines[marker] (its handle is read back
// from nft).
type nftCase struct {
	name     string
	ruleset  string   // for nft -f
	commands []string // iptables-nft commands run after it, instead of nft -f when ruleset is ""
	lines    map[string]string
	queries  []nftQuery
}

type nftQuery struct {
	q       capture.RuleQuery
	want    string
	certain bool
}

var tcp, udp, icmp uint8 = unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_ICMP

var nftCases = []nftCase{{
	name: "tcp dport drop in an output chain, after an accept of another port",
	ruleset: `table inet fw {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 25 accept
		tcp dport 2703 drop comment "razor"
	}
}`,
	queries: []nftQuery{
		{q(capture.DropOutput, tcp, gw4, peer4+":2703"), "inet fw out drop razor", true},
		{q(capture.DropOutput, tcp, gw6, peer6+":2703"), "inet fw out drop razor", true},
		{q(capture.DropOutput, tcp, gw4, peer4+":25"), "", false},
		{q(capture.DropOutput, udp, gw4, peer4+":2703"), "", false},
		{q(capture.DropInput, tcp, peer4+":40000", "203.0.113.10:2703"), "", false}, // no input chain
	},
}, {
	name: "meta l4proto udp udp dport reject",
	ruleset: `table inet fw {
	chain out {
		type filter hook output priority 0; policy accept;
		meta l4proto udp udp dport 6277 reject comment "dcc"
	}
}`,
	queries: []nftQuery{
		{q(capture.DropOutput, udp, gw4, peer4+":6277"), "inet fw out reject dcc", true},
		{q(capture.DropOutput, tcp, gw4, peer4+":6277"), "", false},
	},
}, {
	name: "anonymous set, interval set, address prefix",
	ruleset: `table inet fw {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport {22, 80} drop comment "set"
		tcp dport { 1000-2000, 3000 } drop comment "interval"
		ip saddr 198.51.100.0/24 udp dport 53 drop comment "prefix"
	}
}`,
	queries: []nftQuery{
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:22"), "inet fw in drop set", true},
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:80"), "inet fw in drop set", true},
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:443"), "", false},
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:1500"), "inet fw in drop interval", true},
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:2001"), "", false},
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:3000"), "inet fw in drop interval", true},
		{q(capture.DropInput, udp, peer4+":50000", "203.0.113.10:53"), "inet fw in drop prefix", true},
		{q(capture.DropInput, udp, "192.0.2.1:50000", "203.0.113.10:53"), "", false},
	},
}, {
	name: "connection state cannot be told; jump to a regular chain; vmap",
	ruleset: `table inet fw {
	chain filter_out {
		ct state new tcp dport 2703 reject with tcp reset comment "ct"
		tcp dport vmap { 11371 : drop, 25 : accept }
	}
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 198.51.100.0/24 jump filter_out
	}
}`,
	queries: []nftQuery{
		{q(capture.DropOutput, tcp, gw4, peer4+":2703"), "inet fw filter_out reject ct", false},
		{q(capture.DropOutput, tcp, gw4, peer4+":25"), "", false},
		{q(capture.DropOutput, tcp, gw4, "192.0.2.9:2703"), "", false}, // the jump does not apply
	},
}, {
	name: "a certain accept before the drop: not this rule",
	ruleset: `table inet fw {
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 198.51.100.7 accept
		tcp dport 2703 drop comment "shadowed"
	}
}`,
	queries: []nftQuery{
		{q(capture.DropOutput, tcp, gw4, peer4+":2703"), "", false},
		{q(capture.DropOutput, tcp, gw4, "198.51.100.8:2703"), "inet fw out drop shadowed", true},
	},
}, {
	name: "chain policy drop",
	ruleset: `table inet fw {
	chain in {
		type filter hook input priority 0; policy drop;
		tcp dport 25 accept
	}
	chain out {
		type filter hook output priority 0; policy drop;
		ct state established accept
		tcp dport 25 accept
	}
}`,
	queries: []nftQuery{
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:22"), "policy fw in", true},
		{q(capture.DropInput, tcp, peer4+":50000", "203.0.113.10:25"), "", false},
		{q(capture.DropOutput, tcp, gw4, peer4+":2703"), "policy fw out", false}, // ct state undecided
	},
}, {
	name: "priority order, families, ICMP",
	ruleset: `table inet late {
	chain out {
		type filter hook output priority 10; policy accept;
		tcp dport 2703 drop comment "late"
	}
}
table ip early {
	chain out {
		type filter hook output priority -10; policy accept;
		tcp dport 2703 reject comment "early"
		icmp type echo-request drop comment "ping"
	}
}
table ip6 six {
	chain out {
		type filter hook output priority -20; policy accept;
		tcp dport 2703 drop comment "six"
	}
}`,
	queries: []nftQuery{
		{q(capture.DropOutput, tcp, gw4, peer4+":2703"), "ip early out reject early", true},
		{q(capture.DropOutput, tcp, gw6, peer6+":2703"), "ip6 six out drop six", true},
		{q(capture.DropOutput, icmp, "203.0.113.10:8", peer4+":0"), "ip early out drop ping", true},
		{q(capture.DropOutput, icmp, "203.0.113.10:0", peer4+":0"), "", false}, // echo reply
	},
}, {
	name: "iptables-nft rules (xt comment, REJECT target, multiport, port range)",
	commands: []string{
		"iptables -A OUTPUT -p tcp --dport 2703 -m comment --comment razor -j DROP",
		"iptables -A INPUT -p udp -m multiport --dports 53,6270:6280 -m comment --comment multi -j REJECT",
		"iptables -A INPUT -p tcp -m tcp --dport 20:25 -m comment --comment range -j DROP",
		"ip6tables -A INPUT -p tcp --dport 22 -m comment --comment six -j REJECT --reject-with tcp-reset",
	},
	// iptables-nft keeps comments in the rule's user data, which nft does
	// not list: find the rules by their text.
	lines: map[string]string{"razor": "tcp dport 2703 ", "multi": "udp dport { 53, 6270-6280 }",
		"range": "tcp dport 20-25 ", "six": "tcp dport 22 "},
	queries: []nftQuery{
		{q(capture.DropOutput, tcp, gw4, peer4+":2703"), "ip filter OUTPUT drop razor", true},
		{q(capture.DropInput, udp, peer4+":5000", "203.0.113.10:6277"), "ip filter INPUT reject multi", true},
		{q(capture.DropInput, udp, peer4+":5000", "203.0.113.10:6281"), "", false},
		{q(capture.DropInput, tcp, peer4+":5000", "203.0.113.10:22"), "ip filter INPUT drop range", true},
		{q(capture.DropInput, tcp, "[2001:db8:7::7]:5000", "[2001:db8:1::10]:22"), "ip6 filter INPUT reject six", true},
	},
}}

// TestPrivilegedNftLookup builds each ruleset with nft (or iptables-nft)
// in a namespace of its own, reads it back over netlink and checks what
// Find names.
func TestPrivilegedNftLookup(t *testing.T) {
	for _, c := range nftCases {
		t.Run(c.name, func(t *testing.T) {
			ns := testNetns(t)
			if c.ruleset != "" {
				inNs(t, ns, c.ruleset, "nft", "-f", "-")
			}
			if len(c.commands) > 0 {
				requireIptablesNft(t)
			}
			for _, cmd := range c.commands {
				inNs(t, ns, "", strings.Fields(cmd)...)
			}
			before := inNs(t, ns, "", "nft", "-a", "list", "ruleset")
			rs, err := Load("/run/netns/" + ns)
			if err != nil {
				t.Fatal(err)
			}
			for _, qq := range c.queries {
				got := rs.Find(qq.q)
				checkLocation(t, ns, c.lines, qq, got)
			}
			if after := inNs(t, ns, "", "nft", "-a", "list", "ruleset"); after != before {
				t.Errorf("the ruleset changed:\n%s\nthen\n%s", before, after)
			}
		})
	}
}

func checkLocation(t *testing.T, ns string, lines map[string]string, qq nftQuery, got capture.RuleLocation) {
	t.Helper()
	f := strings.Fields(qq.want)
	var want capture.RuleLocation
	switch {
	case len(f) == 0:
		want = capture.RuleLocation{Hook: qq.q.Hook.String()}
	case f[0] == "policy":
		want = capture.RuleLocation{Hook: qq.q.Hook.String(), Family: "inet", Table: f[1], Chain: f[2], Policy: true,
			Verdict: "drop", Certain: qq.certain}
	default:
		text, ok := lines[f[4]]
		if !ok {
			text = `comment "` + f[4] + `"`
		}
		var h uint64
		fmt.Sscan(handleOf(t, ns, text), &h)
		want = capture.RuleLocation{Hook: qq.q.Hook.String(), Family: f[0], Table: f[1], Chain: f[2], Handle: h,
			Verdict: f[3], Certain: qq.certain}
	}
	if got != want {
		t.Errorf("%v %d %v -> %v:\n got %+v (%s)\nwant %+v (%s)", qq.q.Hook, qq.q.Proto, qq.q.Src, qq.q.Dst,
			got, got, want, want)
	}
}

// requireIptablesNft skips without iptables-nft (fails under CI=true:
// .ci/run installs the iptables package).
func requireIptablesNft(t *testing.T) {
	t.Helper()
	out, err := exec.Command("iptables", "--version").CombinedOutput()
	if err == nil && strings.Contains(string(out), "nf_tables") {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("need iptables-nft (Debian package iptables): %v %s", err, out)
	}
	t.Skipf("no iptables-nft here (Debian package iptables): %v %s", err, out)
}
