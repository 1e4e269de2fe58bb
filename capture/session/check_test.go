package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// goodFlow is a valid flow as a session file holds it.
const goodFlow = `{"uid":"C1","proto":6,"orig":"192.0.2.10:40000","resp":"203.0.113.5:25",
 "start":"2026-11-22T10:00:00Z","end":"2026-11-22T10:00:01Z","orig_pkts":3,"resp_pkts":2,
 "conn_state":"SF","history":"ShAdDaFf","outcome":"established","attempts":1,
 "icmp":{"type":3,"code":13,"version":4,"from":"198.51.100.1","time":"2026-11-22T10:00:00Z","reason":"admin-prohibited"}}`

// sessionWith is a valid session whose top-level field key (or, with
// flowKey set, second flow's field flowKey) is replaced by raw; raw ""
// removes it.
func sessionWith(t *testing.T, key, flowKey, raw string) []byte {
	t.Helper()
	var f map[string]json.RawMessage
	if err := json.Unmarshal([]byte(goodFlow), &f); err != nil {
		t.Fatal(err)
	}
	top := map[string]json.RawMessage{
		"format": json.RawMessage(`"flowaudit-session"`), "version": json.RawMessage(`1`),
		"node": json.RawMessage(`"gw1"`), "start": json.RawMessage(`"2026-11-22T10:00:00Z"`),
		"hosts": json.RawMessage(`["192.0.2.10","2001:db8::10"]`),
		"stats": json.RawMessage(`{"backend":"file","packets":5,"flows":2}`),
	}
	set := func(m map[string]json.RawMessage, k, v string) {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
	}
	if flowKey != "" {
		set(f, flowKey, raw)
	} else if key != "" {
		set(top, key, raw)
	}
	second, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := top["flows"]; !ok && key != "flows" {
		top["flows"] = json.RawMessage(`[` + goodFlow + `,` + string(second) + `]`)
	}
	data, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLoadFieldErrors: a value the audit cannot use is refused with one
// line naming the file, the field (with the flow's index) and the value,
// rather than mis-audited (an unknown outcome used to count as never
// seen, a bad address was reported in Go's words).
func TestLoadFieldErrors(t *testing.T) {
	tests := []struct {
		name, key, flowKey, raw string
		want                    string // after "session FILE: "
	}{
		{"unknown outcome", "", "outcome", `"bogus"`, `flows[1].outcome: unknown outcome "bogus" (want established, rejected, unreachable, unanswered, unknown or not-sent)`},
		{"missing outcome", "", "outcome", "", `flows[1].outcome: missing (want established, rejected, unreachable, unanswered, unknown or not-sent)`},
		{"outcome number", "", "outcome", `3`, `flows[1].outcome: want a string, got 3`},
		{"unknown conn_state", "", "conn_state", `"XX"`, `flows[1].conn_state: unknown conn_state "XX" (want one of Zeek's: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR or OTH)`},
		{"proto name", "", "proto", `"tcp"`, `flows[1].proto: want a whole number from 0 to 255, got string "tcp"`},
		{"proto too big", "", "proto", `300`, `flows[1].proto: want a whole number from 0 to 255, got 300`},
		{"proto negative", "", "proto", `-6`, `flows[1].proto: want a whole number from 0 to 255, got -6`},
		{"orig not ip:port", "", "orig", `"not an ip:port"`, `flows[1].orig: "not an ip:port" is not an ip:port ("192.0.2.1:25", "[2001:db8::1]:25")`},
		{"resp without port", "", "resp", `"203.0.113.5"`, `flows[1].resp: "203.0.113.5" is not an ip:port ("192.0.2.1:25", "[2001:db8::1]:25")`},
		{"resp missing", "", "resp", "", `flows[1].resp: missing (want "ip:port")`},
		{"orig number", "", "orig", `12`, `flows[1].orig: want an "ip:port" string, got 12`},
		{"mixed versions", "", "resp", `"[2001:db8::5]:25"`, `flows[1]: orig 192.0.2.10:40000 and resp [2001:db8::5]:25 are not of one IP version`},
		{"bad start", "", "start", `"yesterday"`, `flows[1].start: "yesterday" is not an RFC 3339 time`},
		{"packets string", "", "orig_pkts", `"3"`, `flows[1].orig_pkts: want a whole number (0 or more), got string "3"`},
		{"icmp from", "", "icmp", `{"type":3,"from":"router"}`, `flows[1].icmp.from: "router" is not an IP address`},
		{"icmp type", "", "icmp", `{"type":"unreach"}`, `flows[1].icmp.type: want a whole number from 0 to 255, got string "unreach"`},
		{"open string", "", "open", `"yes"`, `flows[1].open: want true or false, got string "yes"`},
		{"flow not object", "flows", "", `[1]`, `flows[0]: want an object, got 1`},
		{"flow null", "flows", "", `[null]`, `flows[0]: want an object, got null`},
		{"second flow null", "flows", "", `[` + goodFlow + `,null]`, `flows[1]: want an object, got null`},
		{"empty flow, then null", "flows", "", `[{},null]`, `flows[0].outcome: missing (want established, rejected, unreachable, unanswered, unknown or not-sent)`},
		{"null flow spaced", "flows", "", `[ null ]`, `flows[0]: want an object, got null`},
		{"flows missing", "flows", "", "", `flows: missing (want an array of flows, [] when the capture saw none)`},
		{"flows null", "flows", "", `null`, `flows: want an array, got null`},
		{"flows object", "flows", "", `{}`, `flows: want an array, got object`},
		{"attempts negative", "", "attempts", `-1`, `flows[1].attempts: want a whole number (0 or more), got -1`},
		{"attempts very negative", "", "attempts", `-9000000000`, `flows[1].attempts: want a whole number (0 or more), got -9000000000`},
		{"packets negative", "", "orig_pkts", `-1`, `flows[1].orig_pkts: want a whole number (0 or more), got -1`},
		{"bytes negative", "", "resp_bytes", `-2`, `flows[1].resp_bytes: want a whole number (0 or more), got -2`},
		{"stats bytes negative", "stats", "", `{"bytes":-1}`, `stats.bytes: want a whole number (0 or more), got -1`},
		{"end before start", "", "end", `"2026-11-22T09:59:59.5Z"`, `flows[1].end: 2026-11-22T09:59:59.5Z is before the flow's start 2026-11-22T10:00:00Z`},
		{"end missing", "", "end", "", `flows[1].end: missing (the flow's start is 2026-11-22T10:00:00Z)`},
		{"icmp version 5", "", "icmp", `{"type":3,"code":13,"version":5,"from":"198.51.100.1","reason":"admin-prohibited"}`, `flows[1].icmp.version: want 4 (ICMP) or 6 (ICMPv6), got 5`},
		{"icmp version missing", "", "icmp", `{"type":3,"code":13,"from":"198.51.100.1","reason":"admin-prohibited"}`, `flows[1].icmp.version: want 4 (ICMP) or 6 (ICMPv6), got 0`},
		{"icmpv6 on ipv4 flow", "", "icmp", `{"type":1,"code":1,"version":6,"from":"2001:db8::1","reason":"admin-prohibited"}`, `flows[1].icmp.version: ICMP version 6 cannot answer an IPv4 flow`},
		{"icmp reason unknown", "", "icmp", `{"type":3,"code":13,"version":4,"from":"198.51.100.1","reason":"bogus<b>"}`, `flows[1].icmp.reason: unknown reason "bogus<b>" (want admin-prohibited, port-unreachable, host-unreachable, net-unreachable, proto-unreachable, frag-needed, ttl-exceeded, or icmp-3-13 for type 3 code 13)`},
		{"icmp reason missing", "", "icmp", `{"type":3,"code":13,"version":4,"from":"198.51.100.1"}`, `flows[1].icmp.reason: missing (want admin-prohibited, port-unreachable, host-unreachable, net-unreachable, proto-unreachable, frag-needed, ttl-exceeded, or icmp-3-13 for type 3 code 13)`},
		{"icmp reason of another type", "", "icmp", `{"type":3,"code":13,"version":4,"from":"198.51.100.1","reason":"icmp-5-1"}`, `flows[1].icmp.reason: unknown reason "icmp-5-1" (want admin-prohibited, port-unreachable, host-unreachable, net-unreachable, proto-unreachable, frag-needed, ttl-exceeded, or icmp-3-13 for type 3 code 13)`},
		{"bad host", "hosts", "", `["192.0.2.10","nope"]`, `hosts[1]: "nope" is not an IP address`},
		{"empty host", "hosts", "", `["192.0.2.10",""]`, `hosts[1]: "" is not an IP address`},
		{"host number", "hosts", "", `[5]`, `hosts[0]: want an IP address string, got 5`},
		{"hosts string", "hosts", "", `"192.0.2.10"`, `hosts: want an array, got string "192.0.2.10"`},
		{"node number", "node", "", `1`, `node: want a string, got 1`},
		{"start number", "start", "", `1700000000`, `start: want an RFC 3339 time string, got 1700000000`},
		{"stats packets", "stats", "", `{"packets":"many"}`, `stats.packets: want a whole number (0 or more), got string "many"`},
		{"stats warnings", "stats", "", `{"warnings":"x"}`, `stats.warnings: want an array, got string "x"`},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "s.json")
			if err := os.WriteFile(path, sessionWith(t, tc.key, tc.flowKey, tc.raw), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			if want := "session " + path + ": " + tc.want; err.Error() != want {
				t.Errorf("error\n got %s\nwant %s", err, want)
			}
			if fe := (*FieldError)(nil); !errors.As(err, &fe) || !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v: want a *FieldError that is ErrCorrupt", err)
			}
		})
	}
	// The base session itself is valid, and so are the values a recorder
	// may leave empty.
	for _, tc := range []struct{ key, flowKey, raw string }{
		{}, {"hosts", "", "null"}, {"hosts", "", "[]"}, {"", "conn_state", ""}, {"", "icmp", ""},
		{"", "outcome", `"unknown"`}, {"", "proto", `255`}, {"", "orig", `"[::ffff:192.0.2.10]:40000"`}, {"flows", "", "[]"},
		{"", "attempts", `0`}, {"", "attempts", ""}, {"", "end", `"2026-11-22T10:00:00Z"`}, {"", "start", ""}, {"", "end", `"2026-11-22T11:00:00.5+01:00"`},
		{"", "icmp", `{"type":3,"code":13,"version":4,"from":"198.51.100.1","reason":"icmp-3-13"}`},
		{"", "icmp", `{"type":5,"code":1,"version":4,"from":"198.51.100.1","reason":"icmp-5-1"}`},
		{"start", "", ""}, {"start", "", `"0001-01-01T00:00:00Z"`}, {"end", "", `"0001-01-01T00:00:00Z"`},
	} {
		if _, err := Read(bytes.NewReader(sessionWith(t, tc.key, tc.flowKey, tc.raw))); err != nil {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

// TestICMPReasonsAccepted: every reason the capture paths give an ICMP
// error (flow.ICMPReason, any type and code of either version) loads, so
// the reason check refuses only what no recorder writes.
func TestICMPReasonsAccepted(t *testing.T) {
	for _, version := range []uint8{4, 6} {
		orig, resp := netip.MustParseAddrPort("192.0.2.10:40000"), netip.MustParseAddrPort("203.0.113.5:25")
		if version == 6 {
			orig, resp = netip.MustParseAddrPort("[2001:db8::10]:40000"), netip.MustParseAddrPort("[2001:db8::5]:25")
		}
		for typ := range 256 {
			for code := range 256 {
				f := flow.Flow{Proto: flow.ProtoTCP, Orig: orig, Resp: resp, Outcome: flow.Unreachable,
					ICMP: &flow.ICMPError{Type: uint8(typ), Code: uint8(code), Version: version,
						Reason: flow.ICMPReason(version == 6, uint8(typ), uint8(code))}}
				if fe := checkFlowValues(&f, func(n string) string { return n }); fe != nil {
					t.Fatalf("ICMPv%d type %d code %d: %v", version, typ, code, fe)
				}
			}
		}
	}
}
