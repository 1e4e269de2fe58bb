package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// housekeepingPcap writes a capture of a link's chatter and some
// conversations, built with gopacket:
//
//	fe80::1 -> ff02::16       ICMPv6 143 MLDv2 report
//	fe80::1 -> ff02::1:ff00:2 ICMPv6 135 neighbour solicitation
//	fe80::2 -> fe80::1        ICMPv6 136 neighbour advertisement
//	192.0.2.10 -> 224.0.0.2   ICMP 10 router solicitation
//	192.0.2.10:40001 -> 198.51.100.25:25  TCP handshake (established)
//	192.0.2.10:40002 -> 203.0.113.9:3389  TCP SYN answered by RST (rejected)
func housekeepingPcap(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	n := 0
	write := func(ls ...gopacket.SerializableLayer) {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(n) * 10 * time.Millisecond), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		n++
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	eth := func(typ layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: typ}
	}
	icmp6 := func(src, dst string, typ uint8, body []byte) {
		ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
		if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		write(eth(layers.EthernetTypeIPv6), ip, ic, gopacket.Payload(body))
	}
	target := net.ParseIP("fe80::2")
	icmp6("fe80::1", "ff02::16", 143, make([]byte, 4))                          // reserved, no group records
	icmp6("fe80::1", "ff02::1:ff00:2", 135, append(make([]byte, 4), target...)) // reserved, target
	icmp6("fe80::2", "fe80::1", 136, append([]byte{0x60, 0, 0, 0}, target...))  // solicited+override, target
	write(eth(layers.EthernetTypeIPv4),
		&layers.IPv4{Version: 4, TTL: 1, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP("192.0.2.10").To4(), DstIP: net.ParseIP("224.0.0.2").To4()},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(10, 0)}, gopacket.Payload(make([]byte, 4)))
	tcp := func(s seg) {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
		tc := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), SYN: s.syn, ACK: s.ack, RST: s.rst,
			Seq: s.seq, Ack: s.ackn, Window: 64240}
		if err := tc.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		write(eth(layers.EthernetTypeIPv4), ip, tc)
	}
	for _, s := range handshake("192.0.2.10", 40001, "198.51.100.25", 25) {
		tcp(s)
	}
	tcp(seg{src: "192.0.2.10", dst: "203.0.113.9", sport: 40002, dport: 3389, syn: true, seq: 100})
	tcp(seg{src: "203.0.113.9", dst: "192.0.2.10", sport: 3389, dport: 40002, rst: true, ack: true, ackn: 101})
}

// flowsDoc runs flows -f json and decodes the document loosely, so that
// the test sees the field names as written.
func flowsDoc(t *testing.T, args ...string) (flows []map[string]any, shown float64) {
	t.Helper()
	out, stderr, err := runFlows(t, append([]string{"-f", "json"}, args...)...)
	if err != nil {
		t.Fatalf("flows %v: %v %s", args, err, stderr)
	}
	var doc struct {
		Flows []map[string]any `json:"flows"`
		Shown float64          `json:"shown"`
		Stats map[string]any   `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if s, _ := doc.Stats["start"].(string); !strings.HasSuffix(s, "Z") {
		t.Errorf("stats.start %q is not UTC with Z", s)
	}
	return doc.Flows, doc.Shown
}

// TestFlowsJSONFields: the flows JSON names the protocol, gives the
// endpoints as separate fields, writes times in UTC with Z, and shows ICMP
// control messages as housekeeping with their type and no ports.
func TestFlowsJSONFields(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hk.pcap")
	housekeepingPcap(t, file)
	flows, shown := flowsDoc(t, file)
	if len(flows) != 6 || shown != 6 {
		t.Fatalf("%d flows (shown %v), want 6", len(flows), shown)
	}
	byKey := map[string]map[string]any{}
	for _, f := range flows {
		for _, k := range []string{"orig", "resp"} {
			if _, ok := f[k]; ok {
				t.Errorf("flow %v has the old %q field", f["uid"], k)
			}
		}
		for _, k := range []string{"start", "end"} {
			s, _ := f[k].(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") {
				t.Errorf("%s %q: want RFC 3339 in UTC with Z", k, s)
			}
		}
		key := f["proto"].(string) + " " + f["orig_addr"].(string)
		if p, ok := f["resp_port"]; ok {
			key += " " + strings.TrimSuffix(strings.TrimSuffix(jsonNum(p), ".0"), "")
		}
		if ty, ok := f["icmp_type"]; ok {
			key += " type " + jsonNum(ty)
		}
		byKey[key] = f
	}
	for key, want := range map[string]map[string]any{
		"icmpv6 fe80::1 type 143": {"outcome": "housekeeping", "housekeeping": "mld", "resp_addr": "ff02::16"},
		"icmpv6 fe80::1 type 135": {"outcome": "housekeeping", "housekeeping": "ipv6-nd"},
		"icmpv6 fe80::2 type 136": {"outcome": "housekeeping", "housekeeping": "ipv6-nd"},
		"icmp 192.0.2.10 type 10": {"outcome": "housekeeping", "housekeeping": "router-discovery"},
		"tcp 192.0.2.10 25":       {"outcome": "established", "orig_port": 40001.0, "resp_addr": "198.51.100.25", "conn_state": "S1"},
		"tcp 192.0.2.10 3389":     {"outcome": "rejected", "orig_port": 40002.0},
	} {
		f, ok := byKey[key]
		if !ok {
			t.Errorf("no flow %s (have %v)", key, slices.Sorted(mapKeys(byKey)))
			continue
		}
		for k, v := range want {
			if f[k] != v {
				t.Errorf("%s: %s = %v, want %v", key, k, f[k], v)
			}
		}
		if f["proto"] == "icmpv6" || f["proto"] == "icmp" {
			if _, ok := f["orig_port"]; ok {
				t.Errorf("%s: an ICMP flow has ports: %v", key, f)
			}
		} else if _, ok := f["housekeeping"]; ok {
			t.Errorf("%s: a TCP flow is housekeeping", key)
		}
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestFlowsTableView: the table's times are UTC with Z, ICMP control
// messages read housekeeping with "type N (name)" and no port made of the
// ICMP type; conn.log keeps the flow's own outcome (Zeek's format).
func TestFlowsTableView(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hk.pcap")
	housekeepingPcap(t, file)
	out, _, err := runFlows(t, file)
	if err != nil {
		t.Fatal(err)
	}
	var mld string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "ff02::16") {
			mld = l
		}
	}
	for _, want := range []string{"2026-11-22T09:00:00.000Z", " housekeeping ", "type 143 (MLDv2 report)", " icmpv6 ", " fe80::1 "} {
		if !strings.Contains(mld, want) {
			t.Errorf("MLD row lacks %q: %s", want, mld)
		}
	}
	if strings.Contains(mld, ":143") || strings.Contains(mld, "unanswered") {
		t.Errorf("MLD row shows the type as a port, or unanswered: %s", mld)
	}
	for _, want := range []string{"type 135 (neighbour solicitation)", "type 136 (neighbour advertisement)", "type 10 (router solicitation)",
		"192.0.2.10:40001", "START (UTC)", "6 flows, "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	zeek, _, err := runFlows(t, "-f", "zeek", file)
	if err != nil || strings.Contains(zeek, "housekeeping") || !strings.Contains(zeek, "\tfe80::1\t143\tff02::16\t0\ticmp\t") {
		t.Errorf("conn.log changed for ICMP control messages: %v\n%s", err, zeek)
	}
}

// TestFlowsFilters: --host, --port and --outcome keep the same flows in
// every format, values of one filter add up and filters narrow each
// other; conn.log rows are those of the unfiltered log.
func TestFlowsFilters(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hk.pcap")
	housekeepingPcap(t, file)
	fullZeek, _, err := runFlows(t, "-f", "zeek", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter []string
		want   []string // "orig_addr proto" of the flows kept
	}{
		{[]string{"--host", "198.51.100.25"}, []string{"192.0.2.10 tcp"}},
		{[]string{"--host", "203.0.113.0/24", "--host", "198.51.100.25"}, []string{"192.0.2.10 tcp", "192.0.2.10 tcp"}},
		{[]string{"--host", "fe80::/10"}, []string{"fe80::1 icmpv6", "fe80::1 icmpv6", "fe80::2 icmpv6"}},
		{[]string{"--host", "192.0.2.10"}, []string{"192.0.2.10 icmp", "192.0.2.10 tcp", "192.0.2.10 tcp"}},
		{[]string{"--port", "25"}, []string{"192.0.2.10 tcp"}},
		{[]string{"--port", "3389", "--port", "25"}, []string{"192.0.2.10 tcp", "192.0.2.10 tcp"}},
		{[]string{"--port", "143"}, nil}, // an ICMP type is no port
		{[]string{"--outcome", "housekeeping"}, []string{"192.0.2.10 icmp", "fe80::1 icmpv6", "fe80::1 icmpv6", "fe80::2 icmpv6"}},
		{[]string{"--outcome", "rejected,established"}, []string{"192.0.2.10 tcp", "192.0.2.10 tcp"}},
		{[]string{"--outcome", "unanswered"}, nil},
		{[]string{"--host", "192.0.2.10", "--outcome", "housekeeping"}, []string{"192.0.2.10 icmp"}},
		{[]string{"--host", "203.0.113.9", "--port", "25"}, nil},
	} {
		flows, shown := flowsDoc(t, append(slicesClone(tc.filter), file)...)
		var got []string
		for _, f := range flows {
			got = append(got, f["orig_addr"].(string)+" "+f["proto"].(string))
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) || int(shown) != len(tc.want) {
			t.Errorf("%v: json %v (shown %v), want %v", tc.filter, got, shown, tc.want)
		}
		table, _, err := runFlows(t, append(slicesClone(tc.filter), file)...)
		if summary := len(tc.want); err != nil || !strings.Contains(table, "\n"+itoa(summary)+" of 6 flows match the filters, ") {
			t.Errorf("%v: table summary: %v\n%s", tc.filter, err, table)
		}
		zeek, _, err := runFlows(t, append(append([]string{"-f", "zeek"}, tc.filter...), file)...)
		rows := 0
		for _, l := range strings.Split(strings.TrimSuffix(zeek, "\n"), "\n") {
			if strings.HasPrefix(l, "#") {
				continue
			}
			rows++
			if !strings.Contains(fullZeek, "\n"+l+"\n") {
				t.Errorf("%v: conn.log row not in the unfiltered log: %q", tc.filter, l)
			}
		}
		if err != nil || rows != len(tc.want) {
			t.Errorf("%v: conn.log has %d rows, want %d (%v)", tc.filter, rows, len(tc.want), err)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestFlowsFilterErrors: a bad filter value is a one-line usage error
// naming the flag and the value.
func TestFlowsFilterErrors(t *testing.T) {
	file := filepath.Join(flowsData, "established.pcap")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--host", "192.0.2"}, `--host "192.0.2": want an address or CIDR`},
		{[]string{"--host", "fe80::1%eth0"}, `--host "fe80::1%eth0": want an address or CIDR`},
		{[]string{"--port", "http"}, `--port "http": want a port number, 0 to 65535`},
		{[]string{"--port", "65536"}, `--port "65536": want a port number`},
		{[]string{"--outcome", "blocked"}, `--outcome "blocked": want established, rejected, unreachable, unanswered, unknown, housekeeping`},
	} {
		_, _, err := runFlows(t, append(tc.args, file)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line with %q", tc.args, err, tc.want)
		}
	}
}

// TestFlowsOutputFile: flows -o refuses to overwrite its capture and
// writes atomically.
func TestFlowsOutputFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hk.pcap")
	housekeepingPcap(t, file)
	before, _ := os.ReadFile(file)
	if _, _, err := runFlows(t, "-f", "json", "-o", file, file); err == nil || !strings.Contains(err.Error(), "is also an input") {
		t.Errorf("-o onto the capture: %v", err)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("the capture was changed")
	}
	out := filepath.Join(dir, "conn.log")
	stdout, stderr, err := runFlows(t, "--outcome", "housekeeping", "-o", out, file)
	data, _ := os.ReadFile(out)
	if err != nil || stdout != "" || stderr != "flowaudit: wrote "+out+": 4 flows\n" || !strings.HasPrefix(string(data), "#separator") {
		t.Errorf("-o conn.log: %v, stdout %q, stderr %q, file %q", err, stdout, stderr, headOf(string(data), 40))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}
