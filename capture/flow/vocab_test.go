package flow

import (
	"strings"
	"testing"
)

// TestICMPReasonVocabulary: every name ICMPReason gives is in ICMPReasons
// (or the error's own icmp-TYPE-CODE), and every name in the list is
// given to some error: the list and the mapping agree.
func TestICMPReasonVocabulary(t *testing.T) {
	used := map[string]bool{}
	for _, v6 := range []bool{false, true} {
		for typ := range 256 {
			for code := range 256 {
				r := ICMPReason(v6, uint8(typ), uint8(code))
				if !ValidICMPReason(r, uint8(typ), uint8(code)) {
					t.Fatalf("ICMPReason(%v, %d, %d) = %q: not in the vocabulary", v6, typ, code, r)
				}
				used[r] = true
			}
		}
	}
	for _, r := range ICMPReasons {
		if !used[r] {
			t.Errorf("reason %q is listed but no ICMP error has it", r)
		}
	}
	if ValidICMPReason("icmp-3-13", 3, 14) || ValidICMPReason("bogus", 3, 13) || !ValidICMPReason("icmp-3-13", 3, 13) {
		t.Error("ValidICMPReason accepts another error's type and code, or an unknown name")
	}
}

func TestParseVocabularies(t *testing.T) {
	for _, o := range Outcomes {
		if got, ok := ParseOutcome(string(o)); !ok || got != o {
			t.Errorf("ParseOutcome(%q) = %q, %v", o, got, ok)
		}
	}
	for _, s := range ConnStates {
		if got, ok := ParseConnState(string(s)); !ok || got != s {
			t.Errorf("ParseConnState(%q) = %q, %v", s, got, ok)
		}
	}
	for _, bad := range []string{"", "Established", "pending"} {
		if _, ok := ParseOutcome(bad); ok {
			t.Errorf("ParseOutcome(%q) accepted", bad)
		}
		if _, ok := ParseConnState(strings.ToLower(bad)); ok {
			t.Errorf("ParseConnState(%q) accepted", bad)
		}
	}
}

// TestUIDs: UIDs are unique, Zeek-shaped, the same from UID and UIDs.Make
// (the eBPF backend and the Table), and pinned: golden reports hold them.
func TestUIDs(t *testing.T) {
	var g UIDs
	seen := map[string]uint64{}
	for n := range uint64(200_000) {
		u := g.Make(n)
		if len(u) != 18 || u[0] != 'C' || strings.Trim(u[1:], base62) != "" {
			t.Fatalf("UID %d = %q", n, u)
		}
		if prev, dup := seen[u]; dup {
			t.Fatalf("UID %d = %q, the same as UID %d", n, u, prev)
		}
		seen[u] = n
		if n%1000 == 0 && UID(n) != u {
			t.Fatalf("UID(%d) = %q, UIDs.Make = %q", n, UID(n), u)
		}
	}
	if got := UID(1); got != pinnedUID1 {
		t.Errorf("UID(1) = %q, want %q: the algorithm changed, and with it every golden file", got, pinnedUID1)
	}
	if n := testing.AllocsPerRun(1000, func() { g.Make(7) }); n > 0.01 {
		t.Errorf("UIDs.Make: %.2f allocations per UID", n)
	}
}

// pinnedUID1 is the first UID of every capture (testdata/example's
// reports and sessions start with it).
const pinnedUID1 = "CmAzqdSju9eJsnmBY7"
