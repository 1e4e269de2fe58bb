package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/capture/flow"
)

const flowsData = "../../testdata/flows"

func runFlows(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"flows"}, args...), &out, &errb)
	return out.String(), errb.String(), err
}

func TestFlowsZeekFormat(t *testing.T) {
	out, _, err := runFlows(t, "--format", "zeek",
		filepath.Join(flowsData, "refused-rst.pcap"), filepath.Join(flowsData, "udp-reply.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#fields\t"):
			fields = strings.Split(line, "\t")[1:]
		case strings.HasPrefix(line, "#"):
		default:
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	for _, want := range []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration",
		"orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "resp_pkts"} {
		if !strings.Contains("\t"+strings.Join(fields, "\t")+"\t", "\t"+want+"\t") {
			t.Errorf("#fields lacks %s: %v", want, fields)
		}
	}
	if !strings.HasPrefix(out, "#separator \\x09\n") || !strings.Contains(out, "\n#types\t") || !strings.Contains(out, "\n#close\t") {
		t.Errorf("conn.log header/footer missing:\n%s", out)
	}
	col := map[string]int{}
	for i, f := range fields {
		col[f] = i
	}
	got := map[string]string{}
	for _, r := range rows {
		if len(r) != len(fields) {
			t.Fatalf("row has %d columns, header %d: %q", len(r), len(fields), r)
		}
		got[r[col["proto"]]+"/"+r[col["id.resp_p"]]] = r[col["conn_state"]] + " " + r[col["history"]] + " " + r[col["outcome"]]
	}
	want := map[string]string{"tcp/25": "REJ Sr rejected", "udp/123": "SF Dd established"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestFlowsJSONAndTable(t *testing.T) {
	file := filepath.Join(flowsData, "admin-prohibited-tcp4.pcap")
	out, _, err := runFlows(t, "-f", "json", file)
	if err != nil {
		t.Fatal(err)
	}
	var res flowsJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(res.Flows) != 1 || res.Flows[0].ICMP == nil || res.Flows[0].ICMP.Reason != "admin-prohibited" || res.Stats.Packets != 2 {
		t.Errorf("json result = %+v", res)
	}
	out, _, err = runFlows(t, file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unreachable", "icmp admin-prohibited from 203.0.113.1", "192.0.2.10:40007", "1 flow, 2 packets"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestFlowsErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.pcap")
	_, _, err := runFlows(t, missing)
	if err == nil || !strings.Contains(err.Error(), "nope.pcap") || strings.Contains(err.Error(), "\n") {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := runFlows(t, "--format", "xml", missing); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("bad format: %v", err)
	}
	if _, _, err := runFlows(t); err == nil {
		t.Error("no file: no error")
	}
	// A truncated capture gives its flows and a warning.
	data, err := os.ReadFile(filepath.Join(flowsData, "established.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runFlows(t, "--format", "zeek", cut)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "cut.pcap") || !strings.Contains(stderr, "truncated") || !strings.Contains(out, "\ttcp\t") {
		t.Errorf("truncated: stderr %q, out %q", stderr, out)
	}
}

// TestZeekHostileName: a server name with a tab, a newline, ESC or a
// bidi override stays inside its column of one conn.log row, written as
// Zeek's \xHH escapes, and a clean row costs no allocation.
func TestZeekHostileName(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	zw := &zeekWriter{w: bw}
	f := flow.Flow{UID: "Chostile", Proto: flow.ProtoTCP, Orig: netip.MustParseAddrPort("192.0.2.10:40000"),
		Resp: netip.MustParseAddrPort("203.0.113.5:443"), Outcome: flow.Established, State: flow.StateSF,
		ServerName: "a\tb\nc\x1b[2J\u202e\\d"}
	zw.flow(&f)
	bw.Flush()
	line := out.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("not one row: %q", line)
	}
	cols := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
	if len(cols) != len(zeekFields) {
		t.Fatalf("%d columns, want %d: %q", len(cols), len(zeekFields), line)
	}
	if got, want := cols[len(cols)-1], `a\x09b\x0ac\x1b[2J\xe2\x80\xae\x5cd`; got != want {
		t.Errorf("server_name %q, want %q", got, want)
	}
	f.ServerName = "mx1.example.test"
	zw.w = bufio.NewWriter(io.Discard)
	if n := testing.AllocsPerRun(100, func() { zw.flow(&f) }); n != 0 {
		t.Errorf("a clean row: %.0f allocations, want 0", n)
	}
}

// TestFlowDetailNames: the table shows the responder's DNS names and,
// apart, the server name the originator asked for.
func TestFlowDetailNames(t *testing.T) {
	for _, c := range []struct {
		resp   []string
		server string
		want   string
	}{
		{nil, "", "-"},
		{[]string{"mx.example.net"}, "", "mx.example.net"},
		{nil, "www.example.org", "asked for www.example.org"},
		{[]string{"mx.example.net"}, "www.example.org", "mx.example.net; asked for www.example.org"},
		{[]string{"www.example.org"}, "www.example.org", "www.example.org"},
	} {
		f := flow.Flow{RespNames: c.resp, ServerName: c.server}
		if got := flowDetail(&f); got != c.want {
			t.Errorf("names %q, server name %q: detail %q, want %q", c.resp, c.server, got, c.want)
		}
	}
}
