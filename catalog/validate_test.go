package catalog

import (
	"errors"
	"strings"
	"testing"
)

// good is a minimal valid product; the bad cases below each break one
// thing in a copy of it.
const good = `product: demo
document: demo.txt
features:
  - {name: cluster, default: false, description: several nodes}
rows:
  - name: smtp
    direction: in
    protocol: tcp
    ports: [25]
    peers: [any]
    source: {text: "25 | TCP | In | SMTP"}
`

func TestParseGood(t *testing.T) {
	p, err := Parse("demo.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Requirements) != 1 || p.Requirements[0].ID != "demo/in-tcp-25-smtp" {
		t.Fatalf("requirements = %+v", p.Requirements)
	}
	if f := p.Features(); len(f) != 1 || f[0].Name != "cluster" || f[0].Default {
		t.Fatalf("features = %+v", f)
	}
}

func TestParseExpandsRows(t *testing.T) {
	src := `product: demo
document: d.txt
features: [{name: cluster, default: true}]
rows:
  - {name: sync, direction: both, protocol: [tcp, udp], ports: [53, "10045-10049"], peers: [zone:cluster-peers, "host:*.example.com", ip:192.0.2.0/24, ip:2001:db8::1], condition: cluster, source: {text: x}}
  - {name: ping, direction: out, protocol: icmp, peers: any, source: {text: y}}
`
	p, err := Parse("d.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range p.Requirements {
		ids = append(ids, r.ID)
	}
	want := []string{
		"demo/in-tcp-53-sync", "demo/in-tcp-10045-10049-sync", "demo/in-udp-53-sync", "demo/in-udp-10045-10049-sync",
		"demo/out-tcp-53-sync", "demo/out-tcp-10045-10049-sync", "demo/out-udp-53-sync", "demo/out-udp-10045-10049-sync",
		"demo/out-icmp-ping",
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("ids =\n%v\nwant\n%v", ids, want)
	}
	r := p.Requirements[1]
	if r.Ports[0] != (PortRange{10045, 10049}) || r.Condition == nil || !r.Condition.Default {
		t.Errorf("requirement = %+v", r)
	}
	if len(r.Peers) != 4 || r.Peers[3] != (Peer{Kind: PeerIP, Value: "2001:db8::1"}) {
		t.Errorf("peers = %v", r.Peers)
	}
	icmp := p.Requirements[8]
	if len(icmp.Ports) != 0 || icmp.Ports == nil || icmp.Notes == nil {
		t.Errorf("icmp requirement wants empty, non-nil ports and notes: %+v", icmp)
	}
}

// TestParseErrors: each kind of bad input gives a one-line message that
// names the file, the line and the field.
func TestParseErrors(t *testing.T) {
	row := func(s string) string { return strings.Replace(good, "    ports: [25]\n", s, 1) }
	cases := []struct {
		name, src string
		line      int
		field     string
		msg       string
	}{
		{"unknown top key", good + "colour: red\n", 12, "colour", "unknown key"},
		{"unknown row key", row("    ports: [25]\n    prot: tcp\n"), 10, "rows[0].prot", "unknown key"},
		{"port out of range", row("    ports: [70000]\n"), 9, "rows[0].ports[0]", "out of range"},
		{"port zero", row("    ports: [0]\n"), 9, "rows[0].ports[0]", "out of range"},
		{"not a port", row("    ports: [smtp]\n"), 9, "rows[0].ports[0]", "not a port number"},
		{"reversed range", row("    ports: [\"10049-10045\"]\n"), 9, "rows[0].ports[0]", "reversed range"},
		{"one-way tcp", row("    ports: [25]\n    oneway: true\n"), 10, "rows[0].oneway", "only a udp row can be one-way (tcp always answers)"},
		{"one-way not a boolean", row("    ports: [25]\n    oneway: maybe\n"), 10, "rows[0].oneway", `must be true or false, not "maybe"`},
		{"port twice in a row", row("    ports: [25, 25]\n"), 9, "rows[0].ports[1]", "25 overlaps 25, listed before in this row"},
		{"overlapping ranges", row("    ports: [\"20-30\", 25]\n"), 9, "rows[0].ports[1]", "25 overlaps 20-30, listed before in this row"},
		{"unknown protocol", strings.Replace(good, "protocol: tcp", "protocol: sctp", 1), 8, "rows[0].protocol", "unknown protocol"},
		{"unknown direction", strings.Replace(good, "direction: in", "direction: inbound", 1), 7, "rows[0].direction", "unknown direction"},
		{"tcp without ports", row(""), 6, "rows[0].ports", "needs ports"},
		{"icmp with ports", strings.Replace(good, "protocol: tcp", "protocol: icmp", 1), 9, "rows[0].ports", "icmp has no ports"},
		{"duplicate id", good + "  - {name: smtp, direction: in, protocol: tcp, ports: [25], peers: [any], source: {text: again}}\n", 12, "rows[1].name", "duplicate id demo/in-tcp-25-smtp"},
		{"bad peer kind", strings.Replace(good, "peers: [any]", "peers: [net:1.2.3.4]", 1), 10, "rows[0].peers[0]", "bad peer"},
		{"bad peer cidr", strings.Replace(good, "peers: [any]", "peers: [ip:192.0.2.1/24]", 1), 10, "rows[0].peers[0]", "host bits"},
		{"bad peer host", strings.Replace(good, "peers: [any]", "peers: [\"host:bad host\"]", 1), 10, "rows[0].peers[0]", "not a host name"},
		{"empty source", strings.Replace(good, `{text: "25 | TCP | In | SMTP"}`, `{text: ""}`, 1), 11, "rows[0].source.text", "empty source"},
		{"source without text", strings.Replace(good, `{text: "25 | TCP | In | SMTP"}`, `{document: d.txt}`, 1), 11, "rows[0].source.text", "missing: cite"},
		{"missing source", strings.Replace(good, "    source: {text: \"25 | TCP | In | SMTP\"}\n", "", 1), 6, "rows[0].source", "missing"},
		{"unknown feature", good + "    condition: clustre\n", 12, "rows[0].condition", "unknown feature"},
		{"feature without default", strings.Replace(good, "default: false, ", "", 1), 4, "features[0].default", "missing"},
		{"bad bool", strings.Replace(good, "default: false", "default: maybe", 1), 4, "features[0].default", "true or false"},
		{"key twice", strings.Replace(good, "    direction: in\n", "    direction: in\n    direction: out\n", 1), 8, "rows[0].direction", "given twice"},
		{"alias", strings.Replace(good, "  - name: smtp", "  - &x\n    name: smtp", 1) + "  - *x\n", 13, "rows[1]", "aliases are not supported"},
		{"no rows", "product: demo\n", 1, "rows", "missing"},
		{"bad product name", strings.Replace(good, "product: demo", "product: Demo Product", 1), 1, "product", "lower-case"},
		{"rows not a list", "product: demo\nrows: {a: b}\n", 2, "rows", "must be a list"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("bad.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; product %+v", p)
			}
			if p != nil {
				t.Errorf("a product was returned with the error")
			}
			msg := err.Error()
			first := strings.SplitN(msg, "\n", 2)[0]
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not a *catalog.Error: %v", err)
			}
			if e.File != "bad.yaml" || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %q\nwant bad.yaml:%d: %s: ...%s...", first, tc.line, tc.field, tc.msg)
			}
			if want := "bad.yaml:"; !strings.HasPrefix(first, want) {
				t.Errorf("message %q does not start with %q", first, want)
			}
		})
	}
}

func TestParseSyntaxErrorNamesFile(t *testing.T) {
	for _, src := range []string{"rows: [\n", "", "- a\n- b\n", "product: x\n\tbad: tab\n"} {
		_, err := Parse("broken.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), "broken.yaml") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) = %v; want one line starting with the file name", src, err)
		}
	}
}

func TestParsePeer(t *testing.T) {
	cases := []struct {
		in   string
		want Peer
		err  bool
	}{
		{"any", Peer{Kind: PeerAny}, false},
		{"zone:vendor-support", Peer{Kind: PeerZone, Value: "vendor-support"}, false},
		{"host:*.APC.avira.com", Peer{Kind: PeerHost, Value: "*.apc.avira.com"}, false},
		{"ip:192.0.2.7", Peer{Kind: PeerIP, Value: "192.0.2.7"}, false},
		{"ip:2001:db8::/32", Peer{Kind: PeerIP, Value: "2001:db8::/32"}, false},
		{"ip:192.0.2.7/32", Peer{Kind: PeerIP, Value: "192.0.2.7/32"}, false},
		{"ip:::ffff:192.0.2.7", Peer{Kind: PeerIP, Value: "192.0.2.7"}, false},
		{"zone:Vendor", Peer{}, true},
		{"ip:192.0.2.300", Peer{}, true},
		{"ip:fe80::1%eth0", Peer{}, true},
		{"host:", Peer{}, true},
		{"host:a..b", Peer{}, true},
		{"everyone", Peer{}, true},
	}
	for _, tc := range cases {
		got, err := ParsePeer(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePeer(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, _ := ParsePeer(got.String()); back != got {
				t.Errorf("round trip of %q gave %v", tc.in, back)
			}
		}
	}
}

func TestMatchHost(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*.apc.avira.com", "x1.apc.avira.com", true},
		{"*.apc.avira.com", "a.b.apc.avira.com", true},
		{"*.apc.avira.com", "apc.avira.com", false},
		{"*.apc.avira.com", "x.apc.avira.com.evil.example", false},
		{"repo.clearswift.net", "Repo.Clearswift.NET.", true},
		{"repo.clearswift.net", "rh.repo.clearswift.net", false},
		{"*.apc.avira.com", ".apc.avira.com", false},
		{"*.apc.avira.com", "X.APC.Avira.Com.", true},
		{"*.apc.avira.com", "xapc.avira.com", false},
		{"resolver*.example.com", "resolver1.example.com", false}, // "*" is a whole label
		{"a.*.example.com", "a.b.c.example.com", true},
		{"a.*.example.com", "a.example.com", false},
	}
	for _, tc := range cases {
		if got := MatchHost(tc.pattern, tc.name); got != tc.want {
			t.Errorf("MatchHost(%q, %q) = %v", tc.pattern, tc.name, got)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		MatchHost("*.apc.avira.com", "Node7.apc.avira.com.")
		MatchHost("repo.clearswift.net", "REPO.clearswift.net")
	})
	if allocs != 0 {
		t.Errorf("MatchHost allocates %v times per call", allocs)
	}
}

func TestParseErrorLimit(t *testing.T) {
	src := "product: demo\ndocument: d\nrows:\n" + strings.Repeat("  - {name: a, direction: up, protocol: tcp, ports: [1], peers: [any], source: {text: t}}\n", 30)
	_, err := Parse("many.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "many.yaml: more problems not shown: fix these 20 first" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}
