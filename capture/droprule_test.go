package capture

import "testing"

func TestRuleLocationString(t *testing.T) {
	for _, c := range []struct {
		l    RuleLocation
		want string
	}{
		{RuleLocation{Hook: "output"}, "a rule in the output hook"},
		{RuleLocation{Hook: "input", Family: "inet", Table: "fw", Chain: "in", Policy: true, Verdict: "drop"},
			"table inet fw chain in policy drop"},
		{RuleLocation{Hook: "output", Family: "ip", Table: "filter", Chain: "OUTPUT", Handle: 4, Verdict: "reject"},
			"table ip filter chain OUTPUT handle 4 (reject)"},
	} {
		if got := c.l.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.l, got, c.want)
		}
	}
}
