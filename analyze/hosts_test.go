package analyze

import (
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/text"
)

// TestInferHostsRule checks the rule docs/report.md states: per family the
// busiest address, kept when in at least half of that family's flows; when
// no family has one, the busier of the families' top addresses alone.
func TestInferHostsRule(t *testing.T) {
	v4 := func(orig, resp string) flow.Flow { return fl(tcp, orig+":40000", resp+":25", flow.Established) }
	v6 := func(orig, resp string) flow.Flow {
		return fl(tcp, "["+orig+"]:40000", "["+resp+"]:25", flow.Established)
	}
	tests := []struct {
		name  string
		flows []flow.Flow
		addrs string
		how   string
	}{
		{"one address per family",
			[]flow.Flow{v4("192.0.2.10", "203.0.113.1"), v4("203.0.113.2", "192.0.2.10"), v6("2001:db8::10", "2001:db8:1::1")},
			"192.0.2.10, 2001:db8::10", "192.0.2.10 in 2 of 2 IPv4 flows; 2001:db8::10 in 1 of 1 IPv6 flows"},
		{"exactly half is kept",
			[]flow.Flow{v4("192.0.2.10", "203.0.113.1"), v4("203.0.113.2", "203.0.113.3")},
			"192.0.2.10", "192.0.2.10 in 1 of 2 IPv4 flows"},
		{"a family without a dominant address gets none",
			[]flow.Flow{v4("192.0.2.10", "203.0.113.1"), v4("192.0.2.10", "203.0.113.2"),
				v6("2001:db8::1", "2001:db8::2"), v6("2001:db8::3", "2001:db8::4"), v6("2001:db8::5", "2001:db8::6")},
			"192.0.2.10", "192.0.2.10 in 2 of 2 IPv4 flows"},
		{"no family has one: the busiest, as a guess",
			[]flow.Flow{v4("192.0.2.10", "203.0.113.1"), v4("192.0.2.10", "203.0.113.2"),
				v4("203.0.113.3", "203.0.113.4"), v4("203.0.113.5", "203.0.113.6"), v4("203.0.113.7", "203.0.113.8"),
				v6("2001:db8::1", "2001:db8::2"), v6("2001:db8::3", "2001:db8::4"), v6("2001:db8::5", "2001:db8::6")},
			"192.0.2.10", "192.0.2.10 in 2 of 5 IPv4 flows (a guess: no address takes part in half of its family's flows)"},
		{"no family has one, IPv6 busier",
			[]flow.Flow{v4("192.0.2.1", "203.0.113.1"), v4("192.0.2.2", "203.0.113.2"), v4("192.0.2.3", "203.0.113.3"),
				v6("2001:db8::10", "2001:db8::2"), v6("2001:db8::10", "2001:db8::4"),
				v6("2001:db8::5", "2001:db8::6"), v6("2001:db8::7", "2001:db8::8"), v6("2001:db8::9", "2001:db8::a")},
			"2001:db8::10", "2001:db8::10 in 2 of 5 IPv6 flows (a guess"},
		{"no traffic", nil, "", "no candidate address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := InferHosts(flowsOf(tt.flows))
			addrs, how := d.Addrs, HostsHow(&d, HowReport)
			if got := text.Addrs(addrs); got != tt.addrs || !strings.Contains(how, tt.how) {
				t.Errorf("got %q, %q; want %q, %q", got, how, tt.addrs, tt.how)
			}
		})
	}
}
