package flow

// This file holds the one definition of a flow's outcome and a conn_state
// derivation from aggregated flags. The Table (per-packet, Zeek's state
// machine) and the eBPF backend (kernel map aggregates) both use it, so the
// two capture paths cannot disagree about what "rejected" means.

// TCP flag bits as they appear in Summary.OrigFlags/RespFlags (the same
// values as the TCP header and decode.FIN etc.).
const (
	flagFIN uint8 = 0x01
	flagSYN uint8 = 0x02
	flagRST uint8 = 0x04
	flagACK uint8 = 0x10
)

// Summary is what both the flow table and the eBPF kernel map know about a
// flow: per-direction packet and byte counts and the OR of the TCP flags
// each side sent.
type Summary struct {
	Proto uint8
	// OrigFlags and RespFlags are the OR of the TCP flags each side sent.
	OrigFlags, RespFlags uint8
	OrigPkts, RespPkts   uint64
	// OrigBytes and RespBytes are payload bytes.
	OrigBytes, RespBytes uint64
	// Attempts counts the originator's SYNs (TCP) or requests before any
	// answer.
	Attempts uint32
	// ICMPError is true when an ICMP/ICMPv6 error that means failure
	// (ICMPFails) answered the flow.
	ICMPError bool
}

// Outcome is the one definition of how a flow ended:
//
//   - TCP: the responder's SYN-ACK means Established (an RST afterwards does
//     not undo it) unless the originator never acknowledged it (then the
//     flow is Unanswered: the answer did not get back); ACKs from both
//     sides when the start was missed, and an originator's ACK after its
//     SYN when only its side was captured, mean Established too; otherwise an RST from the responder means Rejected; an
//     ICMP error means Unreachable; an originator that sent a SYN and got
//     nothing back is Unanswered; anything else is Unknown.
//   - UDP, ICMP and other protocols: any packet from the responder means
//     Established; otherwise an ICMP error means Unreachable; packets from
//     the originator only mean Unanswered.
//   - A flow with no originator packets (only the responder side was
//     captured) is judged on what the responder's packets prove
//     (responderOutcome): an ICMP error quoting the originator's packet
//     means Unreachable; a TCP SYN-ACK followed by the responder's data
//     or FIN, Established; an RST with ACK and nothing else, Rejected; a
//     UDP, ICMP or other reply, Established; anything else (a SYN-ACK
//     alone, retransmitted or not) is Unknown.
func (s Summary) Outcome() Outcome {
	if s.OrigPkts == 0 {
		return s.responderOutcome()
	}
	if s.Proto == ProtoTCP {
		switch {
		case s.RespFlags&(flagSYN|flagACK) == flagSYN|flagACK &&
			s.OrigFlags&(flagSYN|flagACK|flagRST) == flagSYN && s.OrigBytes == 0 && s.RespBytes == 0:
			// A SYN-ACK the originator never acknowledged (nor reset, as
			// a SYN scan would): the answer did not get back to it, so
			// the connection never worked. A return route or a firewall
			// on the way back is the usual cause.
			return Unanswered
		case s.RespFlags&(flagSYN|flagACK) == flagSYN|flagACK:
			return Established
		case s.OrigFlags&flagACK != 0 && s.RespFlags&flagACK != 0:
			// The start was missed, but both sides acknowledged each
			// other: the connection was open, whatever ended it (a reset
			// after an exchange is a close, not a refusal). A refusal's
			// RST answers a bare SYN, which carries no ACK, and a reset
			// of an unknown connection carries none either (RFC 9293).
			return Established
		case s.OrigFlags&(flagSYN|flagACK) == flagSYN|flagACK && s.RespPkts == 0:
			// Only the originator's side was captured: it acknowledged
			// after its SYN, which a TCP stack does only on a SYN-ACK.
			return Established
		case s.RespFlags&flagRST != 0 && s.OrigFlags&flagSYN != 0:
			return Rejected
		case s.ICMPError:
			return Unreachable
		case s.RespFlags&flagRST != 0:
			// A reset of a flow that never showed an exchange.
			return Rejected
		case s.RespPkts == 0 && s.OrigFlags&flagSYN != 0:
			return Unanswered
		}
		return Unknown
	}
	switch {
	case s.RespPkts > 0:
		return Established
	case s.ICMPError:
		return Unreachable
	}
	return Unanswered
}

// responderOutcome is what a flow proves when only its responder's
// packets (and ICMP errors about the originator's) were captured, as in a
// capture that holds one direction only. Whether the audit believes it
// depends on whether the capture lacks the originator's side at all
// (analyze decides, docs/flows.md "One-sided flows").
//
//   - An ICMP error that means failure, attached from its quote of the
//     originator's packet: Unreachable (the quote proves the packet).
//   - TCP: a SYN-ACK, then data or a FIN from the responder: Established.
//     A server sends data, or closes, only on a connection its stack
//     moved to ESTABLISHED, which takes the originator's ACK of the
//     SYN-ACK (TCP Fast Open aside).
//   - TCP: RSTs with ACK and nothing else: Rejected. That is how a stack,
//     or a firewall speaking for it, refuses a SYN (RFC 9293 3.10.7.1:
//     a segment without ACK is reset with RST+ACK); a bare RST (no ACK)
//     resets a segment of a connection the sender does not know, which is
//     no answer to an attempt.
//   - UDP, ICMP echo and other protocols: any responder packet is a reply,
//     and a reply proves the request: Established.
//   - A SYN-ACK alone, even retransmitted, proves only that the SYN
//     arrived: Unknown.
func (s Summary) responderOutcome() Outcome {
	switch {
	case s.ICMPError:
		return Unreachable
	case s.RespPkts == 0:
		return Unknown
	case s.Proto != ProtoTCP:
		return Established
	case s.RespFlags&(flagSYN|flagACK) == flagSYN|flagACK && (s.RespBytes > 0 || s.RespFlags&flagFIN != 0):
		return Established
	case s.RespFlags&^(flagRST|flagACK) == 0 && s.RespFlags&flagRST != 0 && s.RespFlags&flagACK != 0 && s.RespBytes == 0:
		return Rejected
	}
	return Unknown
}

// ICMPFails reports whether an ICMP (v6 false) or ICMPv6 error of this type
// and code means the flow it quotes failed: destination unreachable, time
// exceeded, parameter problem. A redirect or a source quench says the
// packet went on, and fragmentation-needed / packet-too-big is a path-MTU
// signal the sender acts on; none of them is a refusal, so they do not
// make a flow Unreachable (they are still attached to it, for the record).
func ICMPFails(v6 bool, typ, code uint8) bool {
	if v6 {
		return typ == 1 || typ == 3 || typ == 4
	}
	return (typ == 3 && code != 4) || typ == 11 || typ == 12
}

// State derives Zeek's conn_state from aggregated flags. The eBPF backend
// uses it; the Table runs Zeek's per-packet endpoint state machine instead,
// which can tell the order of events (a FIN after an RST, say) that
// aggregated flags cannot. Each side's endpoint state is approximated as:
// RST sent -> reset; FIN sent -> closed; SYN sent and the peer's SYN seen ->
// established; SYN alone -> SYN sent; other packets -> partial; none ->
// inactive. Zeek's conn_state function is then applied to those states.
func (s Summary) State() ConnState {
	switch s.Proto {
	case ProtoTCP:
	case ProtoUDP:
		return udpConnState(s.OrigPkts > 0, s.RespPkts > 0)
	default:
		return StateOTH
	}
	os := aggEndpoint(s.OrigFlags, s.OrigPkts, s.RespFlags, true)
	rs := aggEndpoint(s.RespFlags, s.RespPkts, s.OrigFlags, false)
	// Zeek's RSTOS0 test is a history regex: a SYN, then an RST with no
	// SYN-ACK, ACK or FIN in between. Without order, the closest is a SYN
	// and an RST with no ACK or FIN at all.
	synThenRST := s.OrigFlags&(flagSYN|flagRST) == flagSYN|flagRST &&
		s.OrigFlags&(flagACK|flagFIN) == 0
	return tcpConnState(os, rs, s.OrigBytes == 0 && s.RespBytes == 0, synThenRST)
}

// aggEndpoint approximates one side's Zeek endpoint state from the flags it
// sent (own) and the flags its peer sent.
func aggEndpoint(own uint8, pkts uint64, peer uint8, orig bool) tcpEndpointState {
	switch {
	case pkts == 0 && own == 0:
		return tcpInactive
	case own&flagRST != 0:
		return tcpReset
	case own&flagFIN != 0:
		return tcpClosed
	case own&flagSYN != 0 && peer&flagSYN != 0:
		return tcpEstablished
	case own&flagSYN != 0 && orig:
		return tcpSynSent
	case own&flagSYN != 0:
		return tcpSynAckSent
	}
	return tcpPartial
}

// tcpEndpointState mirrors Zeek's per-endpoint TCP states.
type tcpEndpointState uint8

const (
	tcpInactive tcpEndpointState = iota
	tcpSynSent
	tcpSynAckSent
	tcpPartial
	tcpEstablished
	tcpClosed
	tcpReset
)

// tcpConnState is Zeek's conn_state decision for TCP over the two endpoint
// states. bothEmpty says neither side sent payload; synThenRST says the
// originator's history matches Zeek's RSTOS0 pattern (SYN, then RST before
// any SYN-ACK, ACK or FIN).
func tcpConnState(os, rs tcpEndpointState, bothEmpty, synThenRST bool) ConnState {
	oInactive := os == tcpInactive || os == tcpPartial
	rInactive := rs == tcpInactive || rs == tcpPartial
	switch {
	case rs == tcpReset:
		if os == tcpSynSent || os == tcpSynAckSent || (os == tcpReset && bothEmpty) {
			return StateREJ
		}
		if oInactive {
			return StateRSTRH
		}
		return StateRSTR
	case os == tcpReset:
		if rInactive {
			if synThenRST {
				return StateRSTOS0
			}
			return StateOTH
		}
		return StateRSTO
	case rs == tcpClosed && os == tcpClosed:
		return StateSF
	case os == tcpClosed:
		if rInactive {
			return StateSH
		}
		return StateS2
	case rs == tcpClosed:
		if oInactive {
			return StateSHR
		}
		return StateS3
	case os == tcpSynSent && rs == tcpInactive:
		return StateS0
	case os == tcpEstablished && rs == tcpEstablished:
		return StateS1
	}
	return StateOTH
}

// udpConnState is Zeek's conn_state for UDP: which sides were active.
func udpConnState(origActive, respActive bool) ConnState {
	switch {
	case origActive && respActive:
		return StateSF
	case origActive:
		return StateS0
	case respActive:
		return StateSHR
	}
	return StateOTH
}
