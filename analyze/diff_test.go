package analyze

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/catalog"
)

// inconclusive is the coming status "tried, not judged" (issue 12 item
// 4). The diff must read it before this version knows it.
const inconclusive Status = "inconclusive"

// TestCategorize pins the whole rule: every pair of statuses, before
// (rows) and after (columns), and its category. "x-new" stands for any
// status a later version may add.
func TestCategorize(t *testing.T) {
	statuses := []Status{Blocked, Partial, OK, NeverSeen, NotApplicable, inconclusive, "x-new"}
	const (
		nf = DiffNewlyFailing
		sf = DiffStillFailing
		fx = DiffFixed
		so = DiffStillOK
		no = DiffNowOK
		ns = DiffNeverSeen
		nl = DiffNoLongerSeen
		nj = DiffNotJudged
		na = DiffNotApplicable
	)
	want := [][]DiffCategory{
		//         blocked partial ok  never  n/a inconcl x-new   <- after
		/* blocked */ {sf, sf, fx, nl, na, nj, nj},
		/* partial */ {sf, sf, fx, nl, na, nj, nj},
		/* ok      */ {nf, nf, so, nl, na, nj, nj},
		/* never   */ {nf, nf, no, ns, na, nj, nj},
		/* n/a     */ {na, na, na, na, na, na, na},
		/* inconcl */ {nf, nf, no, nl, na, nj, nj},
		/* x-new   */ {nf, nf, no, nl, na, nj, nj},
	}
	for i, b := range statuses {
		for j, a := range statuses {
			if got := Categorize(b, a); got != want[i][j] {
				t.Errorf("Categorize(%s, %s) = %s, want %s", b, a, got, want[i][j])
			}
		}
	}
}

// dreq builds a requirement of product acme with a status; failing ones
// get one flow per reason, in order (the first is the main reason).
func dreq(id string, st Status, reasons ...Reason) Requirement {
	r := Requirement{Product: "acme", ID: "acme/" + id, Direction: catalog.Out, Protocol: catalog.TCP,
		Ports: port(25), Service: "SMTP", Allowed: []catalog.Peer{{Kind: catalog.PeerAny}}, Status: st}
	switch st {
	case OK:
		r.Counts = Counts{Flows: 1, Attempts: 1, Established: 1}
	case Blocked, Partial:
		for _, rs := range reasons {
			r.Reasons = append(r.Reasons, ReasonCount{Reason: rs, Text: rs.Text(), Flows: 1})
			r.Counts.Flows++
			r.Counts.Attempts++
			r.Counts.Unanswered++
		}
		r.Reason, r.ReasonText = reasons[0], reasons[0].Text()
		if st == Partial {
			r.Counts.Flows++
			r.Counts.Attempts++
			r.Counts.Established++
		}
	}
	return r
}

func dgroup(dir catalog.Direction, proto string, p uint16) UnexpectedFlow {
	return UnexpectedFlow{Direction: dir, Protocol: proto, Port: p, Counts: Counts{Flows: 1, Attempts: 1, Established: 1},
		Outcomes: []string{"established"}}
}

func dreport(reqs []Requirement, groups ...UnexpectedFlow) *Report {
	return &Report{Schema: SchemaVersion, Products: []ProductSummary{{Name: "acme", Requirements: len(reqs)}},
		Hosts:    Hosts{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, How: "given with --host"},
		Features: map[string]bool{"cluster": false}, Requirements: reqs, Unexpected: groups}
}

// diffPair is a before and an after report holding every category.
func diffPair() (before, after *Report) {
	before = dreport([]Requirement{
		dreq("newly-failing", OK),
		dreq("newly-failing-from-never", NeverSeen),
		dreq("still-same", Blocked, ReasonUnanswered),
		dreq("still-reason", Blocked, ReasonRejected),
		dreq("still-worse", Partial, ReasonAdminProhibited),
		dreq("no-longer-ok", OK),
		dreq("no-longer-blocked", Blocked, ReasonNoReply),
		dreq("not-judged", Blocked, ReasonUnanswered),
		dreq("fixed", Partial, ReasonRejected),
		dreq("now-ok", inconclusive),
		dreq("never", NeverSeen),
		dreq("still-ok", OK),
		dreq("na", NotApplicable),
		dreq("na-before-only", NotApplicable),
		dreq("only-before", Blocked, ReasonUnanswered),
	}, dgroup(catalog.Out, "tcp", 6667), dgroup(catalog.In, "tcp", 3389))
	after = dreport([]Requirement{
		dreq("newly-failing", Blocked, ReasonUnanswered),
		dreq("newly-failing-from-never", Partial, ReasonRejected),
		dreq("still-same", Blocked, ReasonUnanswered),
		dreq("still-reason", Blocked, ReasonUnanswered),
		dreq("still-worse", Blocked, ReasonAdminProhibited),
		dreq("no-longer-ok", NeverSeen),
		dreq("no-longer-blocked", NeverSeen),
		dreq("not-judged", inconclusive),
		dreq("fixed", OK),
		dreq("now-ok", OK),
		dreq("never", NeverSeen),
		dreq("still-ok", OK),
		dreq("na", NotApplicable),
		dreq("na-before-only", Blocked, ReasonUnanswered),
		dreq("only-after", OK),
	}, dgroup(catalog.Out, "tcp", 6667), dgroup(catalog.Out, "udp", 123))
	return before, after
}

func TestCompare(t *testing.T) {
	before, after := diffPair()
	d := Compare(before, after)
	want := map[string]DiffCategory{
		"newly-failing": DiffNewlyFailing, "newly-failing-from-never": DiffNewlyFailing,
		"still-same": DiffStillFailing, "still-reason": DiffStillFailing, "still-worse": DiffStillFailing,
		"no-longer-ok": DiffNoLongerSeen, "no-longer-blocked": DiffNoLongerSeen, "not-judged": DiffNotJudged,
		"fixed": DiffFixed, "now-ok": DiffNowOK, "never": DiffNeverSeen, "still-ok": DiffStillOK,
		"na": DiffNotApplicable, "na-before-only": DiffNotApplicable, "only-before": DiffOnlyBefore, "only-after": DiffOnlyAfter,
	}
	seen := map[string]bool{}
	lastCat := -1
	for _, r := range d.Requirements {
		id := strings.TrimPrefix(r.ID, "acme/")
		if seen[id] {
			t.Errorf("%s listed twice", id)
		}
		seen[id] = true
		if r.Category != want[id] {
			t.Errorf("%s: category %s, want %s", id, r.Category, want[id])
		}
		if (r.Before == nil) != (id == "only-after") || (r.After == nil) != (id == "only-before") {
			t.Errorf("%s: before %v, after %v", id, r.Before, r.After)
		}
		if r.ReasonChanged != (id == "still-reason") {
			t.Errorf("%s: reason_changed %v", id, r.ReasonChanged)
		}
		if i := slices.Index(DiffCategories, r.Category); i < lastCat {
			t.Errorf("%s: category %s listed after a later one", id, r.Category)
		} else {
			lastCat = i
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d requirements in the diff, want %d (every requirement of either report once)", len(seen), len(want))
	}
	wantSummary := DiffSummary{Compared: 12, Regressions: 3, NewlyFailing: 2, NewlyUnexpected: 1, StillFailing: 3, StillUnexpected: 1,
		NoLongerSeen: 2, NotJudged: 1, Fixed: 1, NowOK: 1, GoneUnexpected: 1, NeverSeen: 1, StillOK: 1, NotApplicable: 2, OnlyBefore: 1, OnlyAfter: 1}
	if d.Summary != wantSummary {
		t.Errorf("summary\n got %+v\nwant %+v", d.Summary, wantSummary)
	}
	var groups []string
	for _, u := range d.Unexpected {
		groups = append(groups, string(u.Category)+" "+string(u.Direction)+" "+u.Protocol)
	}
	if w := []string{"newly-unexpected out udp", "still-unexpected out tcp", "gone-unexpected in tcp"}; !slices.Equal(groups, w) {
		t.Errorf("unexpected groups %q, want %q", groups, w)
	}
	if line := d.Summary.Line(); line != "after the change: 1 fixed, 2 newly failing, 3 still failing, 1 newly unexpected, 2 no longer seen, 1 not judged, 1 now ok, 1 gone unexpected" {
		t.Errorf("line %q", line)
	}
	if d.Mismatch != "the two reports were audited against different requirements (1 requirement only before; 1 requirement only after): comparing the 14 requirements in both" {
		t.Errorf("mismatch %q", d.Mismatch)
	}
	if len(d.Warnings) != 0 {
		t.Errorf("warnings %q, want none", d.Warnings)
	}
}

// TestDiffRegressions: --fail-on counts the listed categories, each once.
func TestDiffRegressions(t *testing.T) {
	d := Compare(diffPair())
	for _, tc := range []struct {
		failOn []DiffCategory
		want   int
	}{
		{DefaultDiffFailOn, 3},
		{nil, 0},
		{[]DiffCategory{DiffStillFailing}, 3},
		{[]DiffCategory{DiffStillFailing, DiffStillFailing, DiffNotJudged}, 4},
		{[]DiffCategory{DiffGoneUnexpected, DiffNoLongerSeen}, 3},
	} {
		if got := d.Regressions(tc.failOn); got != tc.want {
			t.Errorf("Regressions(%v) = %d, want %d", tc.failOn, got, tc.want)
		}
	}
	same := Compare(dreport([]Requirement{dreq("a", Blocked, ReasonUnanswered)}), dreport([]Requirement{dreq("a", Blocked, ReasonUnanswered)}))
	if n := same.Regressions(DefaultDiffFailOn); n != 0 {
		t.Errorf("two equal reports: %d regressions", n)
	}
}

// TestDiffReasonChange: the main reason or the set of reasons changing
// counts; the flow counts of the same reasons changing does not.
func TestDiffReasonChange(t *testing.T) {
	more := dreq("x", Blocked, ReasonUnanswered)
	more.Reasons[0].Flows = 7
	for _, tc := range []struct {
		name          string
		before, after Requirement
		want          bool
	}{
		{"same", dreq("x", Blocked, ReasonUnanswered), dreq("x", Blocked, ReasonUnanswered), false},
		{"more flows, same reason", dreq("x", Blocked, ReasonUnanswered), more, false},
		{"other reason", dreq("x", Blocked, ReasonUnanswered), dreq("x", Blocked, ReasonRejected), true},
		{"a reason more", dreq("x", Blocked, ReasonUnanswered), dreq("x", Blocked, ReasonUnanswered, ReasonRejected), true},
		{"main reason swapped", dreq("x", Partial, ReasonUnanswered, ReasonRejected), dreq("x", Partial, ReasonRejected, ReasonUnanswered), true},
		{"partial to blocked, same reason", dreq("x", Partial, ReasonRejected), dreq("x", Blocked, ReasonRejected), false},
	} {
		d := Compare(dreport([]Requirement{tc.before}), dreport([]Requirement{tc.after}))
		if c := d.Requirements[0]; c.Category != DiffStillFailing || c.ReasonChanged != tc.want {
			t.Errorf("%s: %s, reason_changed %v, want still-failing, %v", tc.name, c.Category, c.ReasonChanged, tc.want)
		}
	}
}

// TestDiffMismatch: other products, and a requirement a catalog defines
// differently, are said in the one line; hosts, features and loss are
// warnings.
func TestDiffMismatch(t *testing.T) {
	before := dreport([]Requirement{dreq("a", OK), dreq("b", OK)})
	after := dreport([]Requirement{dreq("a", OK), dreq("b", OK)})
	after.Requirements[1].Ports = port(587)
	after.Products = append(after.Products, ProductSummary{Name: "other"})
	after.Hosts.Addrs = append(after.Hosts.Addrs, netip.MustParseAddr("2001:db8:a::10"))
	after.Features["cluster"] = true
	after.Capture.LossSeen, after.Capture.Loss = true, []string{"12 packets dropped by the kernel"}
	d := Compare(before, after)
	if want := "the two reports were audited against different requirements (products acme before, acme, other after; 1 requirement defined differently (catalogs differ)): comparing the 2 requirements in both"; d.Mismatch != want {
		t.Errorf("mismatch\n got %q\nwant %q", d.Mismatch, want)
	}
	if !d.Requirements[1].DefinitionChanged || d.Requirements[0].DefinitionChanged {
		t.Errorf("definition_changed: %v, %v", d.Requirements[0].DefinitionChanged, d.Requirements[1].DefinitionChanged)
	}
	want := []string{
		"the gateway addresses differ (before 192.0.2.10, after 192.0.2.10, 2001:db8:a::10): flows may be judged in different directions",
		"the features differ (before none on, after cluster on): requirements not applicable on one side are not compared",
		"the after capture saw loss (12 packets dropped by the kernel): its never-seen verdicts may be wrong",
	}
	if !slices.Equal(d.Warnings, want) {
		t.Errorf("warnings\n got %q\nwant %q", d.Warnings, want)
	}
}

// TestDiffJSON: the schema, lists as [] (never null) even for reports
// without lists, and the same bytes for the same reports.
func TestDiffJSON(t *testing.T) {
	empty := &Report{Schema: SchemaVersion}
	b, err := json.Marshal(Compare(empty, empty))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"schema":"flowaudit.diff/v1"`, `"requirements":[]`, `"unexpected":[]`, `"warnings":[]`, `"products":[]`, `"addrs":[]`, `"files":[]`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s: %s", want, s)
		}
	}
	if strings.Contains(s, "null") {
		t.Errorf("JSON has null: %s", s)
	}
	b1, _ := json.Marshal(Compare(diffPair()))
	b2, _ := json.Marshal(Compare(diffPair()))
	if string(b1) != string(b2) {
		t.Error("two diffs of the same reports differ")
	}
	var back Diff
	if err := json.Unmarshal(b1, &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary != Compare(diffPair()).Summary || len(back.Requirements) != 16 {
		t.Errorf("the JSON does not read back: %+v", back.Summary)
	}
}

func TestParseDiffCategory(t *testing.T) {
	for _, c := range DiffCategories {
		if got, ok := ParseDiffCategory(string(c)); !ok || got != c {
			t.Errorf("ParseDiffCategory(%q) = %q, %v", c, got, ok)
		}
	}
	if got, ok := ParseDiffCategory("newly_failing"); !ok || got != DiffNewlyFailing {
		t.Errorf("newly_failing: %q, %v", got, ok)
	}
	for _, bad := range []string{"", "blocked", "fixed ", "NEWLY-FAILING"} {
		if _, ok := ParseDiffCategory(bad); ok {
			t.Errorf("ParseDiffCategory(%q) accepted", bad)
		}
	}
}
