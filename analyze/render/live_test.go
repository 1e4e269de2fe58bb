package render

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/catalog"
)

// liveReport is a report made by hand for the live view: requirements of
// every status in catalog order (not the order of urgency), seven
// unexpected groups, not-applicable ones under two features.
func liveReport() *analyze.Report {
	rep := &analyze.Report{Products: []analyze.ProductSummary{{Name: "acme"}}}
	add := func(id string, st analyze.Status, port uint16, mod func(*analyze.Requirement)) {
		r := analyze.Requirement{Product: "acme", ID: "acme/" + id, Status: st, Direction: catalog.Out, Protocol: catalog.TCP,
			Ports: []catalog.PortRange{{port, port}}}
		if mod != nil {
			mod(&r)
		}
		rep.Requirements = append(rep.Requirements, r)
		rep.Summary.Requirements++
		switch st {
		case analyze.OK:
			rep.Summary.OK++
		case analyze.Partial:
			rep.Summary.Partial++
		case analyze.Blocked:
			rep.Summary.Blocked++
		case analyze.NeverSeen:
			rep.Summary.NeverSeen++
		case analyze.Inconclusive:
			rep.Summary.Inconclusive++
		case analyze.NotApplicable:
			rep.Summary.NotApplicable++
		}
	}
	peer := func(a string) []analyze.PeerSeen { return []analyze.PeerSeen{{Addr: netip.MustParseAddr(a)}} }
	add("smtp", analyze.OK, 25, func(r *analyze.Requirement) {
		r.Counts = analyze.Counts{Flows: 3, Attempts: 3, Established: 3}
		r.Peers = peer("203.0.113.25")
	})
	add("cluster-db", analyze.NotApplicable, 3306, func(r *analyze.Requirement) { r.Condition = &catalog.Condition{Feature: "cluster"} })
	add("ntp", analyze.Blocked, 123, func(r *analyze.Requirement) {
		r.Protocol = catalog.UDP
		r.Counts = analyze.Counts{Flows: 2, Attempts: 2, Unanswered: 2}
		r.Reason, r.ReasonText = analyze.ReasonNoReply, analyze.ReasonNoReply.Text()
	})
	add("updates", analyze.Inconclusive, 443, func(r *analyze.Requirement) {
		r.Counts = analyze.Counts{Flows: 1, Pending: 1}
		r.Note = "1 attempt(s) still waiting for an answer when the capture ended (pending, not judged): 203.0.113.80; capture at least 1 s longer to judge them"
	})
	add("ldap", analyze.NeverSeen, 389, nil)
	add("razor", analyze.Partial, 2703, func(r *analyze.Requirement) {
		r.Counts = analyze.Counts{Flows: 2, Attempts: 2, Established: 1, Unreachable: 1}
		r.Reason = analyze.ReasonAdminProhibited
	})
	add("cluster-sync", analyze.NotApplicable, 5132, func(r *analyze.Requirement) { r.Condition = &catalog.Condition{Feature: "cluster"} })
	add("support", analyze.NotApplicable, 22, func(r *analyze.Requirement) { r.Condition = &catalog.Condition{Feature: "premium-support"} })
	add("web", analyze.Blocked, 80, func(r *analyze.Requirement) {
		r.Direction = catalog.In
		r.Counts = analyze.Counts{Flows: 1, Attempts: 1, Rejected: 1}
		r.Reason = analyze.ReasonRefusedByGateway
	})
	for i := range 7 {
		u := analyze.UnexpectedFlow{Direction: catalog.Out, Protocol: "tcp", Port: uint16(6660 + i),
			Counts: analyze.Counts{Flows: i + 1, Attempts: i + 1, Established: i + 1}, Outcomes: []string{"established"},
			Peers: peer(fmt.Sprintf("198.51.100.%d", 60+i))}
		if i == 6 {
			u.Processes = []analyze.ProcessSeen{{Comm: "weechat", Flows: 7}}
		}
		rep.Unexpected = append(rep.Unexpected, u)
		rep.Summary.Unexpected++
		rep.Summary.UnexpectedFlows += i + 1
	}
	return rep
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestLiveLayout: the view lists requirements by status in the report's
// order of urgency with the unexpected groups in their place (the most
// flows first, the rest counted), folds the not-applicable ones to one
// line, gives reasons in words, and fits the width.
func TestLiveLayout(t *testing.T) {
	rep := liveReport()
	lines := Live(rep, Options{Width: 79}, 0)
	text := strings.Join(lines, "\n")
	var order []string
	for _, l := range lines[2:] {
		order = append(order, strings.Fields(l)[0])
	}
	wantOrder := []string{"blocked", "blocked", "partial", "unexpected", "unexpected", "unexpected", "and",
		"inconclusive", "never-seen", "ok", "3"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("rows %q, want %q", order, wantOrder)
	}
	for _, w := range []string{
		"1 ok, 1 partial, 2 blocked, 1 inconclusive, 1 never seen, 3 n/a; 7 unexpected",
		"STATUS", "REQUIREMENT", "REASON",
		"no reply", "refused by the", "ICMP admin-prohibited",
		"waiting for an answer", "nothing tried it yet", "with 203.0.113.25",
		"198.51.100.66", "weechat: established", "7 flows",
		"and 4 more unexpected (10 flows)",
		"3 not applicable: cluster (2), premium-support (1)",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("no %q in the view", w)
		}
	}
	for _, token := range []string{"no-reply", "refused-by-gateway", "--all", "acme/"} {
		if strings.Contains(text, token) {
			t.Errorf("the view shows %q", token)
		}
	}
	// The unexpected groups: the most flows first.
	if i, j := strings.Index(text, "out tcp/6666"), strings.Index(text, "out tcp/6665"); i < 0 || j < 0 || i > j {
		t.Errorf("unexpected groups not by flows")
	}
	checkFits(t, lines, 79)
}

// TestLiveHeight: at 80x24 (23 lines for the view, the status line
// below it) the view shows what fits, the most urgent first, and counts
// the rest by status on its last line.
func TestLiveHeight(t *testing.T) {
	rep := liveReport()
	for i := range 30 { // many ok requirements
		rep.Requirements = append(rep.Requirements, analyze.Requirement{ID: fmt.Sprintf("acme/ok-%02d", i), Status: analyze.OK,
			Direction: catalog.In, Protocol: catalog.TCP, Ports: []catalog.PortRange{{uint16(1000 + i), uint16(1000 + i)}},
			Counts: analyze.Counts{Flows: 1, Attempts: 1, Established: 1}})
		rep.Summary.OK++
		rep.Summary.Requirements++
	}
	lines := Live(rep, Options{Width: 79}, 23)
	if len(lines) != 23 {
		t.Fatalf("%d lines, want 23:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// 2 + 9 rows before the ok ones (2 blocked, 1 partial, 3 unexpected
	// and their "and more", 1 inconclusive, 1 never seen), then 11 of the
	// 31 ok; 20 ok and the not-applicable line left out.
	if last := lines[22]; last != "+23 more: 20 ok, 3 not applicable" {
		t.Errorf("last line %q", last)
	}
	if !strings.HasPrefix(lines[21], "ok ") {
		t.Errorf("line before the count %q, want an ok row", lines[21])
	}
	checkFits(t, lines, 79)
	for _, h := range []int{1, 2, 3} {
		if got := Live(rep, Options{Width: 79}, h); len(got) > max(h, 2) {
			t.Errorf("height %d: %d lines", h, len(got))
		}
	}
}

// TestLiveColor: statuses in the renderer's colours (red blocked, yellow
// partial and inconclusive, green ok...) only when asked; none at all
// otherwise.
func TestLiveColor(t *testing.T) {
	rep := liveReport()
	plain := Live(rep, Options{Width: 79}, 0)
	if s := strings.Join(plain, "\n"); strings.Contains(s, "\x1b") {
		t.Errorf("escape codes without colour:\n%q", s)
	}
	colored := Live(rep, Options{Width: 79, Color: true}, 0)
	for i, l := range colored {
		if got := ansiRE.ReplaceAllString(l, ""); got != plain[i] {
			t.Errorf("line %d: %q without its colours, want %q", i, got, plain[i])
		}
	}
	for st, code := range map[string]string{"blocked": ansiRed, "partial": ansiYellow, "inconclusive": ansiYellow, "ok": ansiGreen,
		"never-seen": ansiBlue, "unexpected": ansiMagenta} {
		found := false
		for _, l := range colored {
			if strings.HasPrefix(l, code+st+ansiReset) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s row painted %q", st, code)
		}
	}
	checkFits(t, colored, 79)
}

// TestLiveFitsNarrow: every line fits however narrow, names from the
// traffic and the catalog escaped.
func TestLiveFitsNarrow(t *testing.T) {
	rep := liveReport()
	rep.Requirements[0].ID = "acme/smtp\x1b[2J\nwith a very long name that goes on"
	for _, w := range []int{30, 40, 60, 79, 120} {
		lines := Live(rep, Options{Width: w}, 0)
		checkFits(t, lines, w)
		for _, l := range lines {
			if strings.ContainsAny(l, "\x1b\n\r") {
				t.Errorf("width %d: a control character in %q", w, l)
			}
		}
	}
}

// checkFits fails when a line, without its colours, is wider than w.
func checkFits(t *testing.T, lines []string, w int) {
	t.Helper()
	for _, l := range lines {
		if n := twwidth.Width(ansiRE.ReplaceAllString(l, "")); n > w {
			t.Errorf("%d columns, more than %d: %q", n, w, l)
		}
	}
}

// TestLiveGolden: the bundled example's live view at 80x24, as a
// terminal shows it (golden file, rewritten with -update).
func TestLiveGolden(t *testing.T) {
	rep := auditCapture(t, "../../testdata/example/gateway.pcap")
	golden(t, "gateway.live.txt", []byte(strings.Join(Live(rep, Options{Width: 79}, 23), "\n")+"\n"))
}
