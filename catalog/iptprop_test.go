package catalog

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The property test of the iptables export: the cases of the nftables
// property test (random strings in every field of a catalog and a site
// file), each accepted one exported as both halves, with management
// networks of both families.

var propAdmin = []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25"), netip.MustParsePrefix("2001:db8:ad::/48")}

// iptCase exports an accepted case's two halves and checks their shape.
func iptCase(t *testing.T, c *propCase) (v4, v6 []byte) {
	t.Helper()
	opt := ExportOptions{Features: c.features, Site: c.siteParsed, AllowAdmin: propAdmin}
	out := map[IPFamily][]byte{}
	for _, fam := range []IPFamily{IPv4, IPv6} {
		var buf bytes.Buffer
		if err := WriteIPTables(&buf, c.product, opt, fam); err != nil {
			t.Errorf("%s: accepted, but the IPv%d iptables export fails: %v", c.what, fam, err)
			return nil, nil
		}
		if err := checkIPTShape(buf.Bytes(), fam); err != nil {
			t.Errorf("%s: IPv%d iptables export: %v", c.what, fam, err)
			return nil, nil
		}
		out[fam] = buf.Bytes()
	}
	return out[IPv4], out[IPv6]
}

// TestIPTablesProperty checks the shape of both halves of every accepted
// case (see TestPrivilegedIPTablesProperty for iptables-restore's own
// verdict).
func TestIPTablesProperty(t *testing.T) {
	cases := genCases(t, propCount(t))
	exported := 0
	for i := range cases {
		runCase(t, &cases[i])
		if cases[i].export == nil {
			continue
		}
		if v4, _ := iptCase(t, &cases[i]); v4 != nil {
			exported++
		}
	}
	t.Logf("%d cases: %d exported for iptables", len(cases), exported)
	if exported < len(cases)/5 {
		t.Errorf("%d of %d cases exported: the generator needs rebalancing", exported, len(cases))
	}
}

// TestPrivilegedIPTablesProperty has iptables-restore --test and
// ip6tables-restore --test read every half the property test makes, all
// in one stream each (a filter table per case; starting the tool costs
// milliseconds), in a throwaway network namespace, then load the streams
// there: iptables-save must show the filter table and its three built-in
// chains and nothing else.
func TestPrivilegedIPTablesProperty(t *testing.T) {
	ipt, ip6t, unshare := needIPTables(t)
	cases := genCases(t, propCount(t))
	dir := t.TempDir()
	var all [2]bytes.Buffer
	var files [2][]string
	for i := range cases {
		runCase(t, &cases[i])
		if cases[i].export == nil {
			continue
		}
		v4, v6 := iptCase(t, &cases[i])
		for k, out := range [][]byte{v4, v6} {
			if out == nil {
				continue
			}
			f := filepath.Join(dir, fmt.Sprintf("case-%03d.v%d", i, []int{4, 6}[k]))
			if err := os.WriteFile(f, out, 0o644); err != nil {
				t.Fatal(err)
			}
			files[k] = append(files[k], f)
			all[k].Write(out)
		}
	}
	start := time.Now()
	for k, tool := range []string{ipt, ip6t} {
		stream := filepath.Join(dir, fmt.Sprintf("all.v%d", []int{4, 6}[k]))
		if err := os.WriteFile(stream, all[k].Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("%d IPv%d exports", len(files[k]), []int{4, 6}[k])
		if _, err := iptRestore(unshare, tool, stream, "--test"); err != nil {
			t.Errorf("%s: %s --test: %v", what, filepath.Base(tool), err)
			for _, f := range files[k] { // find the culprits
				if _, err := iptRestore(unshare, tool, f, "--test"); err != nil {
					t.Errorf("%s: %v", filepath.Base(f), err)
				}
			}
			continue
		}
		saved, err := iptRestore(unshare, tool, stream)
		if err != nil {
			t.Errorf("%s: load: %v", what, err)
			continue
		}
		checkSaved(t, what, saved)
		if n := strings.Count(saved, `--comment "admin access"`); n == 0 {
			t.Errorf("%s: the last export loaded has no admin rule", what)
		}
	}
	t.Logf("%d and %d exports: checked and loaded in %v", len(files[0]), len(files[1]), time.Since(start).Round(time.Millisecond))
}
