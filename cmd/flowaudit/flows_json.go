package main

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// flowsJSON is the document `flows -f json` writes (docs/flows.md): its
// own wire structs, converted explicitly, so that flow.Flow and the
// session format can change without changing it, and it can name things
// for people and jq (proto by name, endpoints as fields, times in UTC).
type flowsJSON struct {
	Flows []flowJSON `json:"flows"`
	// Shown is the number of flows listed: all of them, or those the
	// filters matched (stats.flows counts every flow rebuilt).
	Shown int           `json:"shown"`
	Stats capture.Stats `json:"stats"`
}

// flowJSON is one flow of flowsJSON. Ports are set for TCP and UDP (and
// other protocols with ports); ICMP flows have icmp_type (and icmp_code
// for an error that named no flow) instead, echo flows neither.
type flowJSON struct {
	UID      string     `json:"uid"`
	Proto    string     `json:"proto"`
	OrigAddr netip.Addr `json:"orig_addr"`
	OrigPort *uint16    `json:"orig_port,omitempty"`
	RespAddr netip.Addr `json:"resp_addr"`
	RespPort *uint16    `json:"resp_port,omitempty"`
	ICMPType *uint16    `json:"icmp_type,omitempty"`
	ICMPCode *uint16    `json:"icmp_code,omitempty"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`

	OrigPkts  uint64 `json:"orig_pkts"`
	RespPkts  uint64 `json:"resp_pkts"`
	OrigBytes uint64 `json:"orig_bytes"`
	RespBytes uint64 `json:"resp_bytes"`

	State   flow.ConnState `json:"conn_state"`
	History string         `json:"history"`
	// Outcome is the flow's, or "housekeeping" for an ICMP control
	// message, whose kind Housekeeping names (analyze.ICMPControl).
	Outcome      string          `json:"outcome"`
	Housekeeping string          `json:"housekeeping,omitempty"`
	Attempts     int             `json:"attempts"`
	ICMP         *flow.ICMPError `json:"icmp,omitempty"`
	MissedBytes  uint64          `json:"missed_bytes,omitempty"`
	OrigNames    []string        `json:"orig_names,omitempty"`
	RespNames    []string        `json:"resp_names,omitempty"`
	ServerName   string          `json:"server_name,omitempty"`
	Open         bool            `json:"open,omitempty"`
	Evicted      bool            `json:"evicted,omitempty"`
	Node         string          `json:"node,omitempty"`
	Process      *flow.Process   `json:"process,omitempty"`
	LocalDrop    *flow.LocalDrop `json:"local_drop,omitempty"`
}

// protoName is the flows JSON's and table's protocol: tcp, udp, icmp,
// icmpv6, else the IP protocol number.
func protoName(p uint8) string {
	switch p {
	case flow.ProtoTCP:
		return "tcp"
	case flow.ProtoUDP:
		return "udp"
	case flow.ProtoICMP:
		return "icmp"
	case flow.ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

func isICMP(p uint8) bool { return p == flow.ProtoICMP || p == flow.ProtoICMPv6 }

// isICMPError reports whether an ICMP flow is an error that named no flow
// (its ports are type and code, not type and counterpart type).
func isICMPError(f *flow.Flow) bool {
	t := f.Orig.Port()
	if f.Proto == flow.ProtoICMPv6 {
		return t >= 1 && t <= 4
	}
	return t == 3 || t == 4 || t == 5 || t == 11 || t == 12
}

// isICMPEcho reports whether an ICMP flow is an echo exchange, keyed by
// its identifier with both ports zero (ICMP type 0 is an echo reply).
func isICMPEcho(f *flow.Flow) bool { return f.Orig.Port() == 0 && f.Resp.Port() == 0 }

func u16(v uint16) *uint16 { return &v }

// toFlowJSON converts one flow; times are in UTC (RFC 3339 with "Z").
func toFlowJSON(f *flow.Flow) flowJSON {
	j := flowJSON{UID: f.UID, Proto: protoName(f.Proto), OrigAddr: f.Orig.Addr().Unmap(), RespAddr: f.Resp.Addr().Unmap(),
		Start: f.Start.UTC(), End: f.End.UTC(), OrigPkts: f.OrigPkts, RespPkts: f.RespPkts, OrigBytes: f.OrigBytes,
		RespBytes: f.RespBytes, State: f.State, History: f.History, Outcome: shownOutcome(f),
		Housekeeping: analyze.ICMPControl(f), Attempts: f.Attempts, MissedBytes: f.MissedBytes, OrigNames: f.OrigNames,
		RespNames: f.RespNames, ServerName: f.ServerName, Open: f.Open, Evicted: f.Evicted, Node: f.Node,
		Process: f.Process, LocalDrop: f.LocalDrop}
	switch {
	case isICMP(f.Proto) && isICMPEcho(f):
	case isICMP(f.Proto):
		j.ICMPType = u16(f.Orig.Port())
		if isICMPError(f) {
			j.ICMPCode = u16(f.Resp.Port())
		}
	case f.Proto == flow.ProtoTCP || f.Proto == flow.ProtoUDP:
		j.OrigPort, j.RespPort = u16(f.Orig.Port()), u16(f.Resp.Port())
	}
	if f.ICMP != nil {
		e := *f.ICMP
		e.Time = e.Time.UTC()
		e.From = e.From.Unmap()
		j.ICMP = &e
	}
	return j
}

// toFlowsJSON converts the flows shown and the capture's statistics, its
// times in UTC.
func toFlowsJSON(res *capture.Result) flowsJSON {
	out := flowsJSON{Flows: make([]flowJSON, len(res.Flows)), Shown: len(res.Flows), Stats: res.Stats}
	for i := range res.Flows {
		out.Flows[i] = toFlowJSON(&res.Flows[i])
	}
	st := &out.Stats
	st.Start, st.End = st.Start.UTC(), st.End.UTC()
	if len(st.Spans) > 0 {
		spans := make([]capture.Span, len(st.Spans))
		for i, s := range st.Spans {
			spans[i] = capture.Span{Node: s.Node, Start: s.Start.UTC(), End: s.End.UTC()}
		}
		st.Spans = spans
	}
	return out
}

// icmpMessages names the ICMP control messages `flows` shows as
// housekeeping, for the table's detail.
type icmpMsg struct {
	proto uint8
	typ   uint16
}

var icmpMessages = map[icmpMsg]string{
	{flow.ProtoICMPv6, 130}: "MLD query", {flow.ProtoICMPv6, 131}: "MLD report", {flow.ProtoICMPv6, 132}: "MLD done",
	{flow.ProtoICMPv6, 143}: "MLDv2 report", {flow.ProtoICMPv6, 133}: "router solicitation",
	{flow.ProtoICMPv6, 134}: "router advertisement", {flow.ProtoICMPv6, 135}: "neighbour solicitation",
	{flow.ProtoICMPv6, 136}: "neighbour advertisement", {flow.ProtoICMPv6, 137}: "redirect",
	{flow.ProtoICMP, 9}: "router advertisement", {flow.ProtoICMP, 10}: "router solicitation",
}

// icmpLabel is what the table shows for an ICMP flow instead of ports:
// "echo", "type 143 (MLDv2 report)", "type 3 code 13"; "" for other flows.
func icmpLabel(f *flow.Flow) string {
	switch {
	case !isICMP(f.Proto):
		return ""
	case isICMPEcho(f):
		return "echo"
	case isICMPError(f):
		return "type " + strconv.Itoa(int(f.Orig.Port())) + " code " + strconv.Itoa(int(f.Resp.Port()))
	}
	label := "type " + strconv.Itoa(int(f.Orig.Port()))
	if name, ok := icmpMessages[icmpMsg{f.Proto, f.Orig.Port()}]; ok {
		label += " (" + name + ")"
	}
	return label
}

// endpoint is a flow's side in the table: address:port, or the address
// alone for ICMP and protocols without ports.
func endpoint(f *flow.Flow, ap netip.AddrPort) string {
	if f.Proto == flow.ProtoTCP || f.Proto == flow.ProtoUDP {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	return ap.Addr().Unmap().String()
}

// tableTime is a flow's start in the table: UTC, RFC 3339, milliseconds.
func tableTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
