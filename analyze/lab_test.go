package analyze

import (
	"cmp"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/catalog"
)

// The lab (testdata/lab/lab.sh) records captures of a gateway behind a
// firewall and writes, next to each, the truth: every flow the scenario
// made, with the outcome and reason the firewall and listeners imply.
// These tests derive each requirement's expected verdict and the
// unexpected list from that truth and the catalog alone, independently of
// the audit's code, and compare.

type truthFile struct {
	Scenario string          `yaml:"scenario"`
	Product  string          `yaml:"product"` // optional; default: the scenario's name
	Gateway  []string        `yaml:"gateway"`
	Features map[string]bool `yaml:"features"` // optional
	Flows    []truthFlow     `yaml:"flows"`
	// zones, when set, is the site the audit was given (not from YAML).
	zones map[string][]netip.Prefix
	// product is the product audited (not from YAML).
	product *catalog.Product
}

type truthFlow struct {
	Row       string `yaml:"row"`
	Direction string `yaml:"direction"`
	Protocol  string `yaml:"protocol"`
	Peer      string `yaml:"peer"`
	Port      int    `yaml:"port"`
	Name      string `yaml:"name"`
	Label     string `yaml:"label"`
	Outcome   string `yaml:"outcome"`
	Reason    string `yaml:"reason"`
	Captured  bool   `yaml:"captured"`
	// Expect is "required" or "unexpected": what the lab's author says the
	// product's list makes of the row (older truth files lack it).
	Expect string `yaml:"expect"`
}

// scenarioProducts names the product of scenarios not named after one.
var scenarioProducts = map[string]string{"example": "mailcleaner"}

// truthReasons maps the lab's reason vocabulary (docs/lab.md) to the
// report's.
var truthReasons = map[string]Reason{
	"unanswered":       ReasonUnanswered,
	"no-reply":         ReasonNoReply,
	"rst-firewall":     ReasonRejected,
	"rst-peer":         ReasonRejected,
	"rst-gateway":      ReasonRefusedByGateway,
	"admin-prohibited": ReasonAdminProhibited,
	"port-unreachable": ReasonPortUnreachable,
	"host-unreachable": ReasonHostUnreachable,
	"net-unreachable":  ReasonNetUnreachable,
}

// labCaptures lists the lab captures that have a truth file.
func labCaptures(t *testing.T) []string {
	dir := filepath.Join("..", "testdata", "lab", "captures")
	if d := os.Getenv("FLOWAUDIT_LAB_CAPTURES"); d != "" {
		dir = d
	}
	var out []string
	for _, ext := range []string{"*.pcap", "*.pcapng"} {
		m, _ := filepath.Glob(filepath.Join(dir, ext))
		for _, p := range m {
			if _, err := os.Stat(truthPath(p)); err == nil {
				out = append(out, p)
			}
		}
	}
	if os.Getenv("FLOWAUDIT_LAB_CAPTURES") == "" {
		// The bundled example is a lab capture too.
		if ex := filepath.Join("..", "testdata", "example", "gateway.pcap"); fileExists(truthPath(ex)) {
			out = append(out, ex)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no lab captures with truth files in %s", dir)
		}
		t.Skipf("no lab captures with truth files in %s (testdata/lab/lab.sh record makes them)", dir)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func truthPath(capturePath string) string {
	return strings.TrimSuffix(capturePath, filepath.Ext(capturePath)) + ".truth.yaml"
}

func loadTruth(t *testing.T, capturePath string) *truthFile {
	t.Helper()
	b, err := os.ReadFile(truthPath(capturePath))
	if err != nil {
		t.Fatal(err)
	}
	var tf truthFile
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("parse %s: %v", truthPath(capturePath), err)
	}
	return &tf
}

// truthPeerOK is the catalog's peer rule applied to a truth row, written
// from docs/report.md: a zone the site does not define matches any peer.
func truthPeerOK(peers []catalog.Peer, row truthFlow, zones map[string][]netip.Prefix) bool {
	ok, _ := truthPeerMatch(peers, row, zones)
	return ok
}

// truthPeerMatch also says whether a peer narrower than any allowed the
// row (an IP, a configured zone, a host name).
func truthPeerMatch(peers []catalog.Peer, row truthFlow, zones map[string][]netip.Prefix) (ok, specific bool) {
	if len(peers) == 0 {
		return true, false
	}
	addr := netip.MustParseAddr(row.Peer)
	for _, p := range peers {
		switch p.Kind {
		case catalog.PeerAny:
			ok = true
		case catalog.PeerZone:
			pfxs, configured := zones[p.Value]
			switch {
			case !configured:
				ok = true
			case slices.ContainsFunc(pfxs, func(pf netip.Prefix) bool { return pf.Contains(addr) }):
				return true, true
			}
		case catalog.PeerHost:
			if row.Name != "" && catalog.MatchHost(p.Value, row.Name) {
				return true, true
			}
		case catalog.PeerIP:
			if pfx, found := p.Prefix(); found && pfx.Contains(addr) {
				return true, true
			}
		}
	}
	return ok, false
}

// truthCounts reports whether row counts for r: a row counts for the
// most specific requirement that allows it (docs/report.md "Matching"):
// among the applicable ones, else among the not-applicable ones; a peer
// narrower than any first, then the narrower port range, then catalog
// order.
func truthCounts(r *catalog.Requirement, row truthFlow, tf *truthFile) bool {
	if !truthMatches(r, row, tf.zones) {
		return false
	}
	var best *catalog.Requirement
	var bestSpecific bool
	var bestWidth int
	for _, applicable := range []bool{true, false} {
		for i := range tf.product.Requirements {
			c := &tf.product.Requirements[i]
			if c.Applies(tf.Features) != applicable || !truthMatches(c, row, tf.zones) {
				continue
			}
			_, specific := truthPeerMatch(c.Peers, row, tf.zones)
			width := 0
			for _, pr := range c.Ports {
				if pr.Contains(uint16(row.Port)) && (width == 0 || int(pr[1]-pr[0])+1 < width) {
					width = int(pr[1]-pr[0]) + 1
				}
			}
			if best == nil || (specific && !bestSpecific) || (specific == bestSpecific && width < bestWidth) {
				best, bestSpecific, bestWidth = c, specific, width
			}
		}
		if best != nil {
			break
		}
	}
	return best == r
}

// truthMatches reports whether a captured truth row satisfies requirement r.
func truthMatches(r *catalog.Requirement, row truthFlow, zones map[string][]netip.Prefix) bool {
	if !row.Captured || row.Direction != string(r.Direction) || row.Protocol != string(r.Protocol) {
		return false
	}
	if r.Protocol != catalog.ICMP && !slices.ContainsFunc(r.Ports, func(pr catalog.PortRange) bool { return pr.Contains(uint16(row.Port)) }) {
		return false
	}
	return truthPeerOK(r.Peers, row, zones)
}

// expectation is what the truth says about one requirement.
type expectation struct {
	status  Status
	reasons map[Reason]int
	peers   map[netip.Addr][]string // names
	ok      int
	failed  int
}

func expect(r *catalog.Requirement, tf *truthFile) expectation {
	e := expectation{reasons: map[Reason]int{}, peers: map[netip.Addr][]string{}}
	for _, row := range tf.Flows {
		if !truthCounts(r, row, tf) {
			continue
		}
		a := netip.MustParseAddr(row.Peer)
		if row.Name != "" && !slices.Contains(e.peers[a], row.Name) {
			e.peers[a] = append(e.peers[a], row.Name)
		} else if _, ok := e.peers[a]; !ok {
			e.peers[a] = nil
		}
		if row.Outcome == "established" {
			e.ok++
			continue
		}
		e.failed++
		e.reasons[truthReasons[row.Reason]]++
	}
	switch {
	case !r.Applies(tf.Features):
		e.status = NotApplicable
	case e.ok+e.failed == 0:
		e.status = NeverSeen
	case e.failed == 0:
		e.status = OK
	case e.ok > 0:
		e.status = Partial
	default:
		e.status = Blocked
	}
	return e
}

// dominant is the most frequent reason, ties broken by the report's order.
func dominant(m map[Reason]int) Reason {
	var best Reason
	for _, r := range reasonOrder {
		if m[r] > m[best] {
			best = r
		}
	}
	return best
}

func TestLabCaptures(t *testing.T) {
	cat, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range labCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tf := loadTruth(t, path)
			name := cmp.Or(tf.Product, scenarioProducts[tf.Scenario], tf.Scenario)
			prod, err := cat.Product(name)
			if err != nil {
				t.Skipf("truth names product %q: %v", name, err)
			}
			tf.product = prod
			res, err := pcapfile.ReadFiles(context.Background(), []string{path}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var gw []netip.Addr
			for _, g := range tf.Gateway {
				gw = append(gw, netip.MustParseAddr(g))
			}
			for _, mode := range []string{"hosts", "inferred", "site"} {
				t.Run(mode, func(t *testing.T) {
					opts := Options{Products: []*catalog.Product{prod}, Features: tf.Features}
					tf := *tf
					switch mode {
					case "hosts":
						opts.Hosts = gw
					case "site":
						// Every zone the product names is one documentation
						// /24 and a small IPv6 prefix, so some peers are not allowed.
						tf.zones = map[string][]netip.Prefix{}
						for _, r := range prod.Requirements {
							for _, p := range r.Peers {
								if p.Kind == catalog.PeerZone {
									tf.zones[p.Value] = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:b::/124")}
								}
							}
						}
						opts.Site = &catalog.Site{Hosts: gw, Zones: tf.zones, Features: tf.Features}
						opts.Features = nil
					}
					rep, err := Audit(res, opts)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(rep.Hosts.Addrs, sortedAddrs(gw)) {
						t.Errorf("hosts %v (%s), truth %v", rep.Hosts.Addrs, rep.Hosts.How, gw)
					}
					if s := rep.Summary; s.Flows != len(res.Flows) || s.Flows != s.Housekeeping+s.Transit+s.Matched+s.UnexpectedFlows || s.Transit != 0 {
						t.Errorf("flows not placed exactly once, or transit: %+v", s)
					}
					checkRequirements(t, rep, prod, &tf)
					checkUnexpected(t, rep, prod, &tf)
					checkFamilies(t, rep, &tf)
				})
			}
		})
	}
}

func sortedAddrs(as []netip.Addr) []netip.Addr {
	s := slices.Clone(as)
	slices.SortFunc(s, func(a, b netip.Addr) int { return a.Compare(b) })
	return s
}

func checkRequirements(t *testing.T, rep *Report, prod *catalog.Product, tf *truthFile) {
	t.Helper()
	if len(rep.Requirements) != len(prod.Requirements) {
		t.Fatalf("%d requirements in the report, %d in the catalog", len(rep.Requirements), len(prod.Requirements))
	}
	for i := range prod.Requirements {
		cr := &prod.Requirements[i]
		got := &rep.Requirements[i]
		want := expect(cr, tf)
		if got.ID != cr.ID {
			t.Fatalf("requirement %d is %s, catalog has %s", i, got.ID, cr.ID)
		}
		if got.Status != want.status {
			t.Errorf("%s: status %s, truth %s (report counts %+v; truth %d ok, %d failed)", cr.ID, got.Status, want.status, got.Counts, want.ok, want.failed)
			continue
		}
		wantReason := Reason("")
		if want.status == Blocked || want.status == Partial {
			wantReason = dominant(want.reasons)
		}
		if got.Reason != wantReason {
			t.Errorf("%s: reason %q, truth %q (%v)", cr.ID, got.Reason, wantReason, want.reasons)
		}
		var gotReasons, wantReasons []Reason
		for _, rc := range got.Reasons {
			gotReasons = append(gotReasons, rc.Reason)
		}
		for r := range want.reasons {
			wantReasons = append(wantReasons, r)
		}
		slices.Sort(gotReasons)
		slices.Sort(wantReasons)
		if !slices.Equal(gotReasons, wantReasons) {
			t.Errorf("%s: reasons %v, truth %v", cr.ID, gotReasons, wantReasons)
		}
		if (got.Counts.Established > 0) != (want.ok > 0) || (got.Counts.Failed() > 0) != (want.failed > 0) {
			t.Errorf("%s: counts %+v, truth %d ok %d failed", cr.ID, got.Counts, want.ok, want.failed)
		}
		if got.Counts.Attempts < want.ok+want.failed {
			t.Errorf("%s: %d attempts, truth has %d rows", cr.ID, got.Counts.Attempts, want.ok+want.failed)
		}
		checkPeers(t, cr.ID, got.Peers, want.peers)
	}
}

// checkPeers compares peer addresses, and checks each name the truth
// gives was learned.
func checkPeers(t *testing.T, id string, got []PeerSeen, want map[netip.Addr][]string) {
	t.Helper()
	var ga, wa []netip.Addr
	for _, p := range got {
		ga = append(ga, p.Addr)
		for _, n := range want[p.Addr] {
			if !slices.Contains(p.Names, n) {
				t.Errorf("%s: peer %s names %v lack %s", id, p.Addr, p.Names, n)
			}
		}
	}
	for a := range want {
		wa = append(wa, a)
	}
	if !slices.Equal(sortedAddrs(ga), sortedAddrs(wa)) {
		t.Errorf("%s: peers %v, truth %v", id, ga, sortedAddrs(wa))
	}
}

// checkUnexpected derives the unexpected groups from the truth rows no
// applicable requirement allows and compares them with the report's.
func checkUnexpected(t *testing.T, rep *Report, prod *catalog.Product, tf *truthFile) {
	t.Helper()
	type group struct {
		peers    map[netip.Addr][]string
		outcomes map[string]bool
	}
	want := map[string]*group{}
	for _, row := range tf.Flows {
		if !row.Captured {
			continue
		}
		allowed := slices.ContainsFunc(prod.Requirements, func(r catalog.Requirement) bool {
			return r.Applies(tf.Features) && truthMatches(&r, row, tf.zones)
		})
		if tf.zones == nil && row.Expect != "" && allowed != (row.Expect == "required") {
			t.Errorf("row %s (%s): the lab expects %s, the catalog allows it: %v", row.Row, row.Label, row.Expect, allowed)
		}
		if allowed {
			continue
		}
		port := row.Port
		if row.Protocol == "icmp" {
			port = 8 // echo request type (ICMPv6: 128)
			if strings.Contains(row.Peer, ":") {
				port = 128
			}
		}
		key := row.Direction + "/" + row.Protocol + "/" + strconv.Itoa(port)
		g := want[key]
		if g == nil {
			g = &group{peers: map[netip.Addr][]string{}, outcomes: map[string]bool{}}
			want[key] = g
		}
		a := netip.MustParseAddr(row.Peer)
		if row.Name != "" {
			g.peers[a] = append(g.peers[a], row.Name)
		} else if _, ok := g.peers[a]; !ok {
			g.peers[a] = nil
		}
		g.outcomes[row.Outcome] = true
	}
	got := map[string]UnexpectedFlow{}
	for _, u := range rep.Unexpected {
		got[string(u.Direction)+"/"+u.Protocol+"/"+strconv.Itoa(int(u.Port))] = u
	}
	for key, g := range want {
		u, ok := got[key]
		if !ok {
			t.Errorf("unexpected %s (truth) missing from the report", key)
			continue
		}
		checkPeers(t, "unexpected "+key, u.Peers, g.peers)
		if !slices.Equal(u.Outcomes, outcomeOrder(g.outcomes)) {
			t.Errorf("unexpected %s: outcomes %v, truth %v", key, u.Outcomes, outcomeOrder(g.outcomes))
		}
	}
	for key, u := range got {
		if want[key] == nil {
			t.Errorf("unexpected %s in the report, not in the truth (peers %+v)", key, u.Peers)
		}
	}
}

func outcomeOrder(m map[string]bool) []string {
	out := []string{}
	for _, o := range []string{"established", "rejected", "unreachable", "unanswered", "unknown"} {
		if m[o] {
			out = append(out, o)
		}
	}
	return out
}

// checkFamilies: every IP family the truth exercised shows up among the
// report's peers (the lab captures cover IPv4 and IPv6).
func checkFamilies(t *testing.T, rep *Report, tf *truthFile) {
	t.Helper()
	want, got := map[bool]bool{}, map[bool]bool{}
	for _, row := range tf.Flows {
		if row.Captured {
			want[netip.MustParseAddr(row.Peer).Is4()] = true
		}
	}
	for _, r := range rep.Requirements {
		for _, p := range r.Peers {
			got[p.Addr.Is4()] = true
		}
	}
	for _, u := range rep.Unexpected {
		for _, p := range u.Peers {
			got[p.Addr.Is4()] = true
		}
	}
	if len(want) != len(got) {
		t.Errorf("IP families: truth IPv4/IPv6 %v, report %v", want, got)
	}
}
