package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// required lists, per product, every (direction, protocol, ports) the
// vendor documents ask for, written by reading the documents and not the
// catalog files. "both" stands for an in and an out entry; "tcp/udp" for
// one per protocol. The test checks the bundled catalog both ways: nothing
// missing, nothing the documents do not ask for.
var required = map[string][]string{
	// 000: From the Internet, to the Internet, cluster (between the
	// MailCleaner systems: both ways), premium support.
	"mailcleaner": {
		"in tcp 22", "in tcp 25", "in tcp 80", "in tcp 443",
		"out tcp 25", "out tcp 22", "out tcp 80", "out tcp 443", "out tcp 7", "out tcp 2703",
		"out tcp/udp 53", "out udp 24441", "out udp 6277",
		"both tcp 3306", "both tcp 3307", "both tcp 22", "both tcp 5132", "both udp 161",
	},
	// 001 table, Direction column; 002 adds only tcp 80/443 out rows
	// (online help, Avira APC, license) and lexical data on 443/22/990 out.
	"clearswift-seg": {
		"both tcp 20", "both tcp 21", "in tcp 22", "out tcp 22", "in tcp 25", "out tcp 25",
		"both tcp/udp 53", "in tcp 80", "out tcp 80", "both udp 123",
		"out tcp 135", "out udp 137", "out tcp 139", "out udp 161", "out udp 162",
		"both tcp 389", "both tcp 443", "out tcp 445", "out tcp 514", "both tcp 636",
		"both tcp 990", "out tcp 3268", "both tcp 3269", "both tcp 9090", "both tcp 11371",
		"both udp 19200",
	},
	// 003: From/To columns; "SecurityGateway Server" as From is out.
	"securitygateway": {
		"in tcp 25", "out tcp 25", "in tcp 587", "out tcp 587", "in tcp 465",
		"out tcp 110", "out tcp 995", "out udp 53", "out udp 4069", "out tcp 389",
		"out tcp 444", "out tcp 443", "in tcp 4000", "in tcp 4443", "out tcp 80",
		"in tcp 80", "in tcp 443",
	},
	// 004: Incoming & Outgoing, Incoming, Outgoing; TCP unless stated.
	"spamexperts": {
		"both tcp 80", "both tcp 443", "both tcp 25", "both tcp 143", "both udp 123",
		"both tcp 993", "both tcp 3306", "both tcp 10050", "both tcp 873", "both tcp 30443",
		"both tcp/udp 10045-10049", "both tcp 1080", "both icmp",
		"in tcp 22", "in tcp 465", "in tcp 587",
		"out tcp/udp 53", "out udp 6568", "out udp 1600", "out tcp 4121", "out udp 24441",
		"out tcp 10051", "out tcp 2703", "out tcp/udp 61380-61399",
	},
}

// expand turns "both tcp/udp 53" into "in tcp 53", "in udp 53", ...
func expand(spec string) []string {
	f := strings.Fields(spec)
	dirs := []string{f[0]}
	if f[0] == "both" {
		dirs = []string{"in", "out"}
	}
	port := ""
	if len(f) > 2 {
		port = " " + f[2]
	}
	var out []string
	for _, d := range dirs {
		for _, p := range strings.Split(f[1], "/") {
			out = append(out, d+" "+p+port)
		}
	}
	return out
}

func tuple(r Requirement) []string {
	if r.Protocol == ICMP {
		return []string{fmt.Sprintf("%s icmp", r.Direction)}
	}
	var out []string
	for _, pr := range r.Ports {
		out = append(out, fmt.Sprintf("%s %s %s", r.Direction, r.Protocol, pr))
	}
	return out
}

func TestCoverageOfTheDocuments(t *testing.T) {
	c, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Names(), slices.Sorted(maps.Keys(required)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("products = %v, want %v", got, want)
	}
	for product, specs := range required {
		want := map[string]bool{}
		for _, s := range specs {
			for _, e := range expand(s) {
				want[e] = true
			}
		}
		p, err := c.Product(product)
		if err != nil {
			t.Error(err)
			continue
		}
		have := map[string]bool{}
		for _, r := range p.Requirements {
			for _, tu := range tuple(r) {
				have[tu] = true
				if !want[tu] {
					t.Errorf("%s: %s (%s) is not asked for by the documents", product, tu, r.ID)
				}
			}
		}
		for _, w := range slices.Sorted(maps.Keys(want)) {
			if !have[w] {
				t.Errorf("%s: missing %s", product, w)
			}
		}
	}
}
