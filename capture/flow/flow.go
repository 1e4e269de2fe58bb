// Package flow rebuilds bidirectional flows from decoded packets and says
// how each one ended. Both capture paths (files and AF_PACKET through the
// Table, eBPF through kernel aggregates) produce the same Flow records, and
// the analyzer reads nothing else.
package flow

import (
	"net/netip"
	"time"
)

// IP protocol numbers the flow logic treats specially.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// ConnState is Zeek's conn_state vocabulary (S0, S1, SF, REJ, S2, S3,
// RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH).
type ConnState string

// Zeek conn_state values.
const (
	StateS0     ConnState = "S0"
	StateS1     ConnState = "S1"
	StateSF     ConnState = "SF"
	StateREJ    ConnState = "REJ"
	StateS2     ConnState = "S2"
	StateS3     ConnState = "S3"
	StateRSTO   ConnState = "RSTO"
	StateRSTR   ConnState = "RSTR"
	StateRSTOS0 ConnState = "RSTOS0"
	StateRSTRH  ConnState = "RSTRH"
	StateSH     ConnState = "SH"
	StateSHR    ConnState = "SHR"
	StateOTH    ConnState = "OTH"
)

// Outcome is what an attempt to talk came to, the question an audit asks.
// Its values are stable strings: they appear in JSON reports and sessions.
type Outcome string

// Outcomes.
const (
	// Established: TCP handshake completed (or both sides exchanged data
	// when the start was missed); UDP/ICMP/other: the responder answered.
	Established Outcome = "established"
	// Rejected: the responder (or a firewall for it) answered with RST.
	Rejected Outcome = "rejected"
	// Unreachable: an ICMP/ICMPv6 destination-unreachable (or time
	// exceeded) answered the flow; see Flow.ICMP for type and code.
	Unreachable Outcome = "unreachable"
	// Unanswered: the originator sent and nothing came back.
	Unanswered Outcome = "unanswered"
	// Unknown: only the responder side was seen, or the flow is too
	// fragmentary to judge.
	Unknown Outcome = "unknown"
	// NotSent: the capture host itself dropped every packet of the
	// attempt before it left (its own firewall on output, no route...),
	// so nothing of it reached the wire. Only the live capture's drop
	// probe makes such flows; LocalDrop says why, and the originator's
	// counts are the packets the kernel dropped.
	NotSent Outcome = "not-sent"
)

// ICMPError is an ICMP or ICMPv6 error that answered a flow, parsed down to
// the embedded header that names the flow it answers.
type ICMPError struct {
	Type uint8 `json:"type"`
	Code uint8 `json:"code"`
	// Version is 4 for ICMP, 6 for ICMPv6.
	Version uint8 `json:"version"`
	// From is the router or host that sent the error.
	From netip.Addr `json:"from"`
	Time time.Time  `json:"time"`
	// Reason is a short stable name: "admin-prohibited", "port-unreachable",
	// "host-unreachable", "net-unreachable", "proto-unreachable",
	// "frag-needed", "ttl-exceeded", or "icmp-TYPE-CODE" otherwise.
	Reason string `json:"reason"`
}

// Process is the local program behind a connection, when a capture backend
// can tell (best effort: eBPF attribution only).
type Process struct {
	PID  uint32 `json:"pid"`
	Comm string `json:"comm"`
}

// Flow is one finished (or, at end of input, still open) bidirectional
// flow. Orig is the side that opened it: the sender of the first SYN, or of
// the first packet, corrected when the capture missed the start.
type Flow struct {
	// UID is unique within one capture run, Zeek style ("C" + base62).
	UID   string         `json:"uid"`
	Proto uint8          `json:"proto"`
	Orig  netip.AddrPort `json:"orig"`
	// Resp port is the server port. For ICMP, Orig port holds the type and
	// Resp port the code, as Zeek writes them.
	Resp  netip.AddrPort `json:"resp"`
	Start time.Time      `json:"start"`
	End   time.Time      `json:"end"`

	OrigPkts  uint64 `json:"orig_pkts"`
	RespPkts  uint64 `json:"resp_pkts"`
	OrigBytes uint64 `json:"orig_bytes"` // payload bytes, as Zeek counts them
	RespBytes uint64 `json:"resp_bytes"`

	State   ConnState `json:"conn_state"`
	History string    `json:"history"`
	Outcome Outcome   `json:"outcome"`
	// Attempts counts the originator's SYNs (TCP) or requests before any
	// answer; retransmissions are merged into one flow, never split.
	Attempts int `json:"attempts"`
	// ICMP is set when an ICMP error answered this flow.
	ICMP *ICMPError `json:"icmp,omitempty"`
	// MissedBytes counts bytes acknowledged but never seen (capture loss).
	MissedBytes uint64 `json:"missed_bytes,omitempty"`

	// OrigNames and RespNames are names learned passively for each side:
	// DNS answers, to queries seen, valid at Start (see capture/naming).
	OrigNames []string `json:"orig_names,omitempty"`
	RespNames []string `json:"resp_names,omitempty"`
	// ServerName is the name the originator asked for inside the flow
	// (TLS SNI or HTTP Host of its first payload), when one was seen. It
	// is not one of RespNames: it names the responder only when the
	// originator is trusted, which the audit decides (the gateway opened
	// the flow).
	ServerName string `json:"server_name,omitempty"`

	// Open is true when input ended before the flow did.
	Open bool `json:"open,omitempty"`
	// Evicted is true when the bounded table finished the flow early.
	Evicted bool `json:"evicted,omitempty"`

	// Node names the gateway that recorded the flow (merged sessions).
	Node    string   `json:"node,omitempty"`
	Process *Process `json:"process,omitempty"`
	// LocalDrop is set when this host's own kernel dropped packets of the
	// flow (its firewall, a missing route or neighbour...), as the live
	// drop probe saw (docs/local-drops.md). A flow dropped on output may
	// have left no packet on the wire: its originator counts are then the
	// packets the kernel dropped.
	LocalDrop *LocalDrop `json:"local_drop,omitempty"`
	// Link is what the capture's link layer said about each side (Link);
	// zero when it said nothing.
	Link Link `json:"link,omitzero"`
}

// LocalDrop is what this host's kernel dropped of one flow.
type LocalDrop struct {
	// Hook is where: "input" (the packet arrived and was dropped before
	// reaching its socket) or "output" (a local program sent it and it was
	// dropped before leaving).
	Hook string `json:"hook"`
	// Reason is the kernel's drop reason as a stable lower-case name
	// ("netfilter-drop", "ip-outnoroutes", "neigh-failed"...).
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
	// Rule names the firewall rule that can drop the flow when it could
	// be determined ("table inet fw chain output handle 4"), else where
	// ("a rule in the output hook"); empty for reasons other than a
	// firewall's.
	Rule string `json:"rule,omitempty"`
}

// Duration is End minus Start.
func (f *Flow) Duration() time.Duration { return f.End.Sub(f.Start) }
