// Package analyze turns rebuilt flows into an audit: it decides which side
// of each flow is the gateway, matches flows to the requirements of one or
// more catalog products, gives every requirement a status (ok, partial,
// blocked, never-seen, not-applicable) with the reason for failures, lists
// the flows no requirement allows, and says how far the evidence can be
// trusted. The Report it returns is the single input of every renderer and
// marshals to the documented JSON schema "flowaudit.report/v1"
// (docs/report.md).
package analyze

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// SchemaVersion is the value of Report.Schema. It changes only when a field
// is removed or changes meaning; adding fields keeps the version.
const SchemaVersion = "flowaudit.report/v1"

// Status is a requirement's verdict. Values are stable strings.
type Status string

// Statuses, in the order reports list them (worst first).
const (
	// Blocked: attempts were seen and none worked.
	Blocked Status = "blocked"
	// Partial: some attempts worked and some failed.
	Partial Status = "partial"
	// NeverSeen: the requirement applies but no attempt was seen.
	NeverSeen Status = "never-seen"
	// OK: every attempt seen worked (at least one).
	OK Status = "ok"
	// NotApplicable: the requirement's condition (feature) is off.
	NotApplicable Status = "not-applicable"
	// Inconclusive: tried, not judged. Attempts were seen that the
	// capture cannot judge, because it lacks one direction of the
	// traffic (replies are not in this capture), and the attempts it can
	// judge do not decide the verdict on their own; or nothing was seen
	// where the missing direction would hide attempts; or the only
	// attempts were cut off by the end of the capture (pending), when
	// Note says how much longer to capture. Note says why (docs/report.md
	// "One-sided captures", "Pending").
	Inconclusive Status = "inconclusive"
	// Unexpected is not a requirement status: it names the unexpected
	// flows for --fail-on and Findings.
	Unexpected Status = "unexpected"
)

// Statuses lists the requirement statuses in report order.
var Statuses = []Status{Blocked, Partial, Inconclusive, NeverSeen, OK, NotApplicable}

// DefaultFailOn is what counts as a finding unless the user says otherwise.
var DefaultFailOn = []Status{Blocked, Partial, Inconclusive, NeverSeen, Unexpected}

// ParseStatus accepts a status name as written in reports (also
// "never_seen", "neverseen" and "na" as conveniences).
func ParseStatus(s string) (Status, bool) {
	switch s {
	case "blocked":
		return Blocked, true
	case "partial":
		return Partial, true
	case "never-seen", "never_seen", "neverseen":
		return NeverSeen, true
	case "inconclusive":
		return Inconclusive, true
	case "ok":
		return OK, true
	case "not-applicable", "not_applicable", "na":
		return NotApplicable, true
	case "unexpected":
		return Unexpected, true
	}
	return "", false
}

// Reason says why attempts failed. Values are stable strings.
type Reason string

// Reasons for blocked and partial requirements (and failed outcomes of
// unexpected flows).
const (
	// ReasonUnanswered: TCP (or ICMP echo, or other IP) attempts got no
	// answer at all: dropped silently on the way.
	ReasonUnanswered Reason = "unanswered"
	// ReasonHandshakeIncomplete: the responder answered a TCP SYN with a
	// SYN-ACK that the originator never acknowledged: the answer is lost
	// on the way back (a return route, or a firewall that drops it).
	ReasonHandshakeIncomplete Reason = "handshake-incomplete"
	// ReasonNoReply: UDP requests got no reply. UDP has no handshake, so a
	// filter and a service that does not answer look the same.
	ReasonNoReply Reason = "no-reply"
	// ReasonRejected: answered with a TCP RST (by the peer or a firewall
	// speaking for it).
	ReasonRejected Reason = "rejected"
	// ReasonRefusedByGateway: an inbound TCP attempt reached the gateway
	// and the gateway itself answered with RST: the service is not
	// listening.
	ReasonRefusedByGateway Reason = "refused-by-gateway"
	// ReasonAdminProhibited: an ICMP/ICMPv6 "administratively prohibited"
	// error: a firewall rejects it.
	ReasonAdminProhibited Reason = "admin-prohibited"
	// ReasonPortUnreachable, ReasonHostUnreachable, ReasonNetUnreachable:
	// ICMP destination-unreachable errors of those codes.
	ReasonPortUnreachable Reason = "port-unreachable"
	ReasonHostUnreachable Reason = "host-unreachable"
	ReasonNetUnreachable  Reason = "net-unreachable"
	// ReasonUnreachable: any other ICMP error (protocol unreachable,
	// fragmentation needed, time exceeded...); Reasons gives the detail.
	ReasonUnreachable Reason = "unreachable"
)

// Text is the reason as a short sentence for people.
func (r Reason) Text() string {
	switch r {
	case ReasonUnanswered:
		return "unanswered: dropped silently"
	case ReasonNoReply:
		return "no reply: filtered or silent service"
	case ReasonHandshakeIncomplete:
		return "SYN-ACK never acknowledged: the answer is lost on the way back"
	case ReasonRejected:
		return "rejected by RST"
	case ReasonRefusedByGateway:
		return "refused by the gateway itself: service not listening"
	case ReasonAdminProhibited:
		return "ICMP admin-prohibited: a firewall rejects it"
	case ReasonPortUnreachable:
		return "ICMP port unreachable"
	case ReasonHostUnreachable:
		return "ICMP host unreachable"
	case ReasonNetUnreachable:
		return "ICMP network unreachable"
	case ReasonUnreachable:
		return "ICMP error"
	case ReasonLocalDrop:
		return "dropped by this gateway's firewall"
	case ReasonNoRoute:
		return "no route on this gateway"
	case ReasonNeighFailed:
		return "this gateway could not resolve the next hop (ARP / neighbour discovery)"
	case ReasonSocketFilter:
		return "dropped by a socket filter on this gateway"
	case "":
		return ""
	}
	return string(r)
}

// Report is the result of an audit. Every list in it has a deterministic
// order, so equal inputs give byte-identical JSON.
type Report struct {
	Schema    string    `json:"schema"`
	Generated time.Time `json:"generated,omitzero"` // set by the caller; zero is omitted
	Tool      string    `json:"tool,omitempty"`     // tool version, set by the caller

	Summary  Summary          `json:"summary"`
	Products []ProductSummary `json:"products"`
	Hosts    Hosts            `json:"hosts"`
	// Features is the effective feature set (site file, then --with).
	Features map[string]bool `json:"features"`
	// Zones lists the zones of the site file with their prefixes.
	Zones map[string][]netip.Prefix `json:"zones"`

	Requirements []Requirement    `json:"requirements"`
	Unexpected   []UnexpectedFlow `json:"unexpected"`
	// UnexpectedFolded counts the unexpected groups beyond MaxUnexpected
	// and their flows; absent when every group is listed.
	UnexpectedFolded *FoldedGroups `json:"unexpected_folded,omitempty"`
	// Noise summarises the inbound flows set aside as internet noise
	// (backscatter and scanners, docs/report.md): not judged, not listed
	// as unexpected. Absent when there was none.
	Noise        *Noise         `json:"noise,omitempty"`
	Housekeeping []Housekeeping `json:"housekeeping"`
	Capture      CaptureSummary `json:"capture"`
	// Coverage says which sides of the flows the capture holds, and
	// whether it lacks what the gateway received or sent (docs/report.md
	// "One-sided captures"). Absent in reports of versions before it.
	Coverage *Coverage `json:"coverage,omitempty"`
	// Warnings are things the reader must know to trust the report: loss,
	// unconfigured zones, inferred hosts, a missing side.
	Warnings []string `json:"warnings"`
	// Recorded names the inputs a report over sessions took from what the
	// sessions recorded, no flag giving them: "products", "catalog
	// overlays", "site file", "features" (RecordedText says it in a
	// sentence). Absent from other reports.
	Recorded []string `json:"recorded,omitempty"`
}

// RecordedText says which inputs came from the sessions, for the
// renderers: "products, site file and features as the sessions recorded
// them"; "" when none did.
func (r *Report) RecordedText() string {
	n := len(r.Recorded)
	if n == 0 {
		return ""
	}
	list := r.Recorded[0]
	if n > 1 {
		list = strings.Join(r.Recorded[:n-1], ", ") + " and " + r.Recorded[n-1]
	}
	return list + " as the sessions recorded them"
}

// Summary counts the verdicts.
type Summary struct {
	Requirements  int `json:"requirements"`
	OK            int `json:"ok"`
	Partial       int `json:"partial"`
	Blocked       int `json:"blocked"`
	NeverSeen     int `json:"never_seen"`
	NotApplicable int `json:"not_applicable"`
	// Inconclusive counts requirements tried but not judged (left out
	// when none, as reports before it had none).
	Inconclusive int `json:"inconclusive,omitempty"`
	// Unexpected counts groups of unexpected flows (direction, protocol,
	// port); UnexpectedFlows counts the flows in them.
	Unexpected      int `json:"unexpected"`
	UnexpectedFlows int `json:"unexpected_flows"`
	// Flows is every flow read; Matched those allowed by at least one
	// applicable requirement; Transit those where neither side is a
	// gateway host; Housekeeping link-local chatter summarised apart.
	Flows        int `json:"flows"`
	Matched      int `json:"matched"`
	Transit      int `json:"transit"`
	Housekeeping int `json:"housekeeping"`
	// Noise counts the flows set aside as internet noise (Report.Noise):
	// Flows = Housekeeping + Transit + Matched + UnexpectedFlows + Noise.
	Noise int `json:"noise,omitempty"`
}

// Count returns the number of requirements with status s (or unexpected
// groups for Unexpected).
func (s Summary) Count(st Status) int {
	switch st {
	case OK:
		return s.OK
	case Partial:
		return s.Partial
	case Blocked:
		return s.Blocked
	case NeverSeen:
		return s.NeverSeen
	case NotApplicable:
		return s.NotApplicable
	case Inconclusive:
		return s.Inconclusive
	case Unexpected:
		return s.Unexpected
	}
	return 0
}

// Line is the one-line summary reports start with, e.g. "38
// requirements: 21 ok, 4 blocked, 11 never seen, 2 not applicable; 3
// unexpected". Statuses with no requirement are left out.
func (s Summary) Line() string {
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{s.OK, "ok"}, {s.Partial, "partial"}, {s.Blocked, "blocked"}, {s.Inconclusive, "inconclusive"}, {s.NeverSeen, "never seen"},
		{s.NotApplicable, "not applicable"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	noun := "requirements"
	if s.Requirements == 1 {
		noun = "requirement"
	}
	line := fmt.Sprintf("%d %s", s.Requirements, noun)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	return line + fmt.Sprintf("; %d unexpected", s.Unexpected)
}

// ProductSummary names one audited product.
type ProductSummary struct {
	Name         string `json:"name"`
	Title        string `json:"title,omitempty"`
	Requirements int    `json:"requirements"`
}

// Hosts are the gateway addresses that decided every flow's direction.
type Hosts struct {
	Addrs []netip.Addr `json:"addrs"`
	// How says where they came from, in words (HostsHow of From): "given
	// with --host", "from the site file", "interface eth0 addresses",
	// "inferred from the traffic (...)", "session: ...". Read From, not
	// How, to know the origin.
	How string `json:"how"`
	// Inferred is true when flowaudit guessed them from the traffic (any
	// of them, for a report over sessions).
	Inferred bool `json:"inferred"`
	// Found says, for each inferred address, how it was found
	// (HostsFound): "link layer: source MAC ...", "link layer: outgoing
	// (SLL)" or "most flows". Empty when none was inferred.
	Found []HostFound `json:"found,omitempty"`
	// From is the decision itself (not in the JSON report, which has
	// How).
	From capture.HostsDecision `json:"-"`
}

// Counts are flow counts per outcome. Attempts excludes Unknown (flows seen
// only from the responder side are not attempts).
type Counts struct {
	Flows       int `json:"flows"`
	Attempts    int `json:"attempts"`
	Established int `json:"established"`
	Rejected    int `json:"rejected"`
	Unreachable int `json:"unreachable"`
	Unanswered  int `json:"unanswered"`
	Unknown     int `json:"unknown"`
	// NotSent counts attempts the gateway itself dropped before any of
	// their packets left (flow.NotSent: the live capture's drop probe),
	// in Attempts. Left out when none.
	NotSent int `json:"not_sent,omitempty"`
	// Pending counts flows the capture's end cut off before an answer
	// could come (see OutcomePending): in Flows, not in Attempts.
	Pending int `json:"pending"`
	// Inconclusive counts attempts the capture cannot judge, as it lacks
	// the direction that would show their answer (see
	// OutcomeInconclusive): in Flows, not in Attempts. Left out when none.
	Inconclusive int `json:"inconclusive,omitempty"`
	// prov counts flows whose outcome depends on the capture's coverage,
	// known only at Report (sides.resolve); zero in every Counts a
	// Report holds.
	prov [numProv]int
}

// OutcomePending is the timeline outcome (and unexpected outcome) of a
// flow still open at the end of the capture, with no answer yet, that
// started less than Options.PendingWindow before the capture's last
// packet: the capture ended before an answer could arrive, so it is
// neither a failure nor a success.
const OutcomePending = "pending"

// OutcomeInconclusive is the timeline outcome (and unexpected outcome) of
// an attempt the capture cannot judge: seen from one side only, in a
// capture that lacks the other direction, and proving neither success nor
// failure from the side it shows (docs/report.md "One-sided captures").
const OutcomeInconclusive = "inconclusive"

// Failed is attempts that did not work.
func (c Counts) Failed() int { return c.Attempts - c.Established }

// ReasonCount is how many failed flows had one reason.
type ReasonCount struct {
	Reason Reason `json:"reason"`
	// Text is the reason as a sentence; for a local reason it says where
	// the gateway dropped the attempts: "dropped by this gateway's
	// firewall (output)".
	Text  string `json:"text"`
	Flows int    `json:"flows"`
	// Detail gives the ICMP error names behind ReasonUnreachable, the
	// firewall that sent a port unreachable, or for ReasonLocalDrop the
	// gateway's rules that drop the attempts ("table inet fw chain out
	// handle 4 (drop)", or "a rule in the output hook" when the rule
	// could not be named), sorted.
	Detail []string `json:"detail,omitempty"`
}

// PeerSeen is one address on the other side of a requirement's or an
// unexpected group's flows.
type PeerSeen struct {
	Addr  netip.Addr `json:"addr"`
	Names []string   `json:"names"`
	// Zones are the site zones the address belongs to.
	Zones  []string `json:"zones,omitempty"`
	Counts Counts   `json:"counts"`
}

// NodeCounts is what one gateway node (of merged sessions) saw.
type NodeCounts struct {
	Node   string `json:"node"`
	Counts Counts `json:"counts"`
}

// Attempt is one flow on a requirement's timeline.
type Attempt struct {
	Time    time.Time  `json:"time"`
	Peer    netip.Addr `json:"peer"`
	Port    uint16     `json:"port"`
	Outcome string     `json:"outcome"`
	Reason  Reason     `json:"reason,omitempty"`
	Node    string     `json:"node,omitempty"`
	UID     string     `json:"uid,omitempty"`
	// Process is the local program that opened the flow, when the capture
	// backend could tell (eBPF attribution, best effort).
	Process *flow.Process `json:"process,omitempty"`
	// prov marks an attempt whose outcome the capture's coverage decides
	// at Report (Outcome and Reason are then what it would be judged).
	prov prov
}

// MaxTimeline bounds each requirement's timeline; TimelineOmitted counts
// what did not fit (the earliest attempts are kept).
const MaxTimeline = 100

// Requirement is one catalog requirement with its verdict and evidence.
type Requirement struct {
	Product   string              `json:"product"`
	ID        string              `json:"id"`
	Direction catalog.Direction   `json:"direction"`
	Protocol  catalog.Protocol    `json:"protocol"`
	Ports     []catalog.PortRange `json:"ports"`
	Service   string              `json:"service"`
	Purpose   string              `json:"purpose"`
	// Allowed is the requirement's peer constraint as in the catalog.
	Allowed   []catalog.Peer     `json:"allowed"`
	Condition *catalog.Condition `json:"condition"`
	Notes     []string           `json:"notes"`
	// OneWay: no reply is expected (catalog OneWay), so a datagram sent
	// without one counts as established.
	OneWay bool `json:"oneway,omitempty"`

	Status Status `json:"status"`
	// Reason is the most frequent failure reason (blocked and partial
	// only); Reasons lists every failure reason with counts.
	Reason     Reason        `json:"reason"`
	ReasonText string        `json:"reason_text"`
	Reasons    []ReasonCount `json:"reasons"`

	Counts Counts `json:"counts"`
	// Peers are worst first (most failed attempts, most flows, address),
	// at most MaxPeers; PeersOmitted counts the rest of the peers tracked.
	Peers        []PeerSeen `json:"peers"`
	PeersOmitted int        `json:"peers_omitted"`
	// PeersFolded estimates (HyperLogLog, about 3 % error) how many
	// distinct peers were not tracked once the requirement had seen more
	// than it keeps; FoldedCounts are their flows, exactly. Both absent
	// when nothing was folded.
	PeersFolded  int     `json:"peers_folded,omitempty"`
	FoldedCounts *Counts `json:"folded_counts,omitempty"`
	// NoiseFlows counts inbound flows of this requirement's port set aside
	// as internet noise (Report.Noise): they are not in Counts and did not
	// decide Status.
	NoiseFlows int `json:"noise_flows,omitempty"`
	// Nodes are the gateways that saw matching flows (merged sessions);
	// ByNode gives each one's counts, so a report says which node saw what.
	Nodes     []string     `json:"nodes"`
	ByNode    []NodeCounts `json:"by_node"`
	FirstSeen *time.Time   `json:"first_seen"`
	LastSeen  *time.Time   `json:"last_seen"`
	// Note explains flows that were not judged: pending attempts the end
	// of the capture cut off (Counts.Pending). Empty when there are none.
	Note string `json:"note,omitempty"`
	// UnconfiguredZones are zones this requirement names that the site does
	// not define: they matched any peer.
	UnconfiguredZones []string `json:"unconfigured_zones"`
	// RemoteSide lists the peers whose failures the remote-side rule
	// explains (docs/report.md "Remote-side failures"): an outbound
	// requirement to any peer (or a wide zone) whose port worked to many
	// other peers, while these never answered. They did not make the
	// requirement partial. Absent when the rule did not apply.
	RemoteSide []PeerSeen `json:"remote_side,omitempty"`
	// OtherPeerFlows counts flows with this direction, protocol and port to
	// or from peers the requirement does not allow (listed as unexpected).
	OtherPeerFlows  int       `json:"other_peer_flows"`
	Timeline        []Attempt `json:"timeline"`
	TimelineOmitted int       `json:"timeline_omitted"`
	// Activity counts every flow over time when the timeline could not
	// keep them all (TimelineOmitted > 0); absent otherwise.
	Activity *Activity `json:"activity,omitempty"`
	// Processes are the local programs behind the flows, when the capture
	// could tell (eBPF attribution): at most MaxProcesses, most failures
	// first; ProcessFlowsOther counts the flows of programs beyond them.
	// Both absent when no flow named its program.
	Processes         []ProcessSeen `json:"processes,omitempty"`
	ProcessFlowsOther int           `json:"process_flows_other,omitempty"`

	Source catalog.Source `json:"source"`
}

// UnexpectedFlow groups flows that no applicable requirement allows, by
// direction, protocol and server port (the ICMP type for ICMP).
type UnexpectedFlow struct {
	Direction catalog.Direction `json:"direction"`
	// Protocol is "tcp", "udp", "icmp" (ICMP and ICMPv6) or "ip-N".
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
	Counts   Counts `json:"counts"`
	// Outcomes lists the outcomes seen, in a fixed order.
	Outcomes []string      `json:"outcomes"`
	Reasons  []ReasonCount `json:"reasons"`
	// Peers as in Requirement: worst first; a group tracks fewer peers
	// than a requirement (32), and folds the others as a requirement does.
	Peers        []PeerSeen   `json:"peers"`
	PeersOmitted int          `json:"peers_omitted"`
	PeersFolded  int          `json:"peers_folded,omitempty"`
	FoldedCounts *Counts      `json:"folded_counts,omitempty"`
	Nodes        []string     `json:"nodes"`
	ByNode       []NodeCounts `json:"by_node"`
	FirstSeen    time.Time    `json:"first_seen"`
	LastSeen     time.Time    `json:"last_seen"`
	// PeerNotAllowed lists applicable requirements with the same
	// direction, protocol and port whose peer constraint these flows fail; NotApplicable those
	// that would allow them but whose condition is off.
	PeerNotAllowed []string `json:"peer_not_allowed"`
	NotApplicable  []string `json:"not_applicable"`
	// Processes and ProcessFlowsOther as in Requirement: which local
	// programs opened these flows.
	Processes         []ProcessSeen `json:"processes,omitempty"`
	ProcessFlowsOther int           `json:"process_flows_other,omitempty"`
	// Activity counts the group's flows over time (a group keeps no
	// timeline).
	Activity *Activity `json:"activity,omitempty"`
}

// FoldedGroups stands for the unexpected groups the report does not
// list (beyond MaxUnexpected): how many, and their flows (exact).
type FoldedGroups struct {
	Groups int    `json:"groups"`
	Counts Counts `json:"counts"`
}

// Noise summarises the inbound flows set aside as internet noise, in one
// line (docs/report.md "Internet noise").
type Noise struct {
	// Flows is every flow set aside (Summary.Noise).
	Flows int `json:"flows"`
	// Backscatter: inbound TCP SYNs the gateway answered with a SYN-ACK
	// that was never acknowledged (spoofed sources). Sources is an
	// estimate (a flood has too many to count exactly).
	Backscatter NoiseKind `json:"backscatter"`
	// Scanners: sources that tried ScanPorts or more distinct ports
	// without completing a handshake with the gateway in between.
	// Sources counts them exactly.
	Scanners NoiseKind `json:"scanners"`
	// Ports are the ports noise went to, most flows first (at most 5).
	Ports []NoisePort `json:"ports"`
	// Overflow counts inbound flows judged without the scanner test
	// because the source table (Options.NoiseSources) was full; when
	// non-zero a warning says so.
	Overflow int `json:"overflow,omitempty"`
}

// NoiseKind counts one kind of noise.
type NoiseKind struct {
	Sources int `json:"sources"`
	Flows   int `json:"flows"`
}

// NoisePort is one port noise went to.
type NoisePort struct {
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
	Flows    int    `json:"flows"`
}

// Housekeeping summarises one kind of link-local chatter (neighbour
// discovery, MLD, DHCP, multicast...), kept apart from unexpected flows.
type Housekeeping struct {
	Kind    string `json:"kind"`
	Text    string `json:"text"`
	Flows   int    `json:"flows"`
	Packets uint64 `json:"packets"`
}

// CaptureSummary is the evidence behind the report.
type CaptureSummary struct {
	Backend string   `json:"backend"`
	Files   []string `json:"files"`
	Iface   string   `json:"iface,omitempty"`
	// Start and End are left out when the capture holds no packet.
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	Seconds     float64   `json:"seconds"`
	Packets     uint64    `json:"packets"`
	Bytes       uint64    `json:"bytes"`
	Flows       uint64    `json:"flows"`
	Undecodable uint64    `json:"undecodable"`
	IfaceDrops  uint64    `json:"iface_drops"`
	// Duplicates are the copies of packets a capture on "any" saw on a
	// second interface, dropped (capture.Stats.Duplicates).
	Duplicates  uint64 `json:"duplicates,omitempty"`
	KernelDrops uint64 `json:"kernel_drops"`
	MissedBytes uint64 `json:"missed_bytes"`
	Evicted     uint64 `json:"evicted"`
	// LossSeen is true when any loss signal is non-zero: never-seen
	// verdicts may then be wrong.
	LossSeen bool `json:"loss_seen"`
	// Loss says what was lost, one phrase per loss signal seen
	// (capture.Stats.LossSignals): drops, undecodable frames, bytes never
	// captured, evicted flows, input files not read to their end, an
	// interrupted replay. Empty exactly when LossSeen is false.
	Loss []string `json:"loss"`
	// Interrupted is capture.Stats.Interrupted: the replay stopped before
	// the end of its input.
	Interrupted bool `json:"interrupted,omitempty"`
	// StoppedEarly is true when the input was not read to its end (an
	// interrupted replay, a truncated or damaged file): blocked and partial
	// verdicts of attempts just before the cut may be wrong too.
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// Spans are the capture windows of merged sessions (capture.Stats
	// Spans), by start: the report draws the gaps between them. Absent
	// for a single capture, whose window is Start to End.
	Spans    []CaptureSpan `json:"spans,omitempty"`
	Nodes    []string      `json:"nodes"`
	Warnings []string      `json:"warnings"`
	// Attribution is capture.Stats.Attribution: whether flows name the
	// local process that opened them ("unavailable: ..." when the eBPF
	// hooks could not load; empty for backends that cannot tell).
	Attribution string `json:"attribution,omitempty"`
	// LocalDrops is what the live capture's drop probe saw the gateway's
	// own kernel drop (capture.Stats.LocalDrops). Absent when no probe ran
	// (a replay, or the probe could not load: Warnings say so).
	LocalDrops *LocalDrops `json:"local_drops,omitempty"`
}

// LocalDrops counts the packets the gateway's own kernel dropped during a
// live capture.
type LocalDrops struct {
	// ByReason counts them by kernel reason ("netfilter-drop",
	// "ip-outnoroutes"... docs/local-drops.md), every reason included;
	// empty when none was dropped.
	ByReason map[string]uint64 `json:"by_reason"`
	// Lost counts drops of the recorded reasons the probe could not
	// record (its map full, headers unreadable): flows they belong to
	// carry no local drop.
	Lost uint64 `json:"lost,omitempty"`
}

// CaptureSpan is one session's capture window: its node, first and last
// packet.
type CaptureSpan struct {
	Node  string    `json:"node"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Findings counts what failOn asks about: requirements whose status is
// listed, plus unexpected groups when Unexpected is listed. A non-zero
// result means exit status 1.
func (r *Report) Findings(failOn []Status) int {
	n := 0
	seen := map[Status]bool{}
	for _, st := range failOn {
		if !seen[st] {
			seen[st] = true
			n += r.Summary.Count(st)
		}
	}
	return n
}
