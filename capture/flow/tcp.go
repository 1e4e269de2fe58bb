package flow

import "github.com/flowaudit/flowaudit/capture/decode"

// This file follows Zeek's TCP analyzer: per-endpoint states driven packet
// by packet, sequence-range byte counts, and the history string. Only the
// parts that decide conn_state, history and sizes are kept.

// tooLargeSeqDelta is Zeek's bound on believable SYN/RST sequence jumps.
const tooLargeSeqDelta = 1 << 20

// tcp runs one TCP packet through the endpoint state machine.
//
// It stays one long function on purpose, as tcpState does: the order of
// its checks is part of the state machine, and in one piece it can be
// read side by side with Zeek's analyzer, which TestZeekAgreement holds
// its results to. Split up, the per-packet path would also pay for calls
// with many arguments.
//
//gocyclo:ignore
func (t *Table) tcp(e *entry, isOrig bool, p *decode.Packet) {
	d := 0
	if !isOrig {
		d = 1
	}
	ep, peer := &e.ep[d], &e.ep[1-d]
	flags := p.TCPFlags
	syn, fin, rst, ack := flags&decode.SYN != 0, flags&decode.FIN != 0,
		flags&decode.RST != 0, flags&decode.ACK != 0
	length := p.PayloadLen
	segLen := int64(length)
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= int64(length)
	}
	ep.pkts++
	ep.flags |= flags
	if isOrig && syn && !ack && peer.pkts == 0 {
		e.attempts++
	}

	// Sequence bookkeeping (Zeek's init_endpoint).
	switch ep.state {
	case tcpInactive:
		ep.initSeq(p.Seq, syn)
	case tcpSynSent, tcpSynAckSent, tcpEstablished, tcpPartial:
		if syn && p.Seq != ep.startAbs {
			ep.initSeq(p.Seq, true)
		}
	case tcpReset:
		if syn && ep.prevState == tcpInactive {
			ep.initSeq(p.Seq, true)
		}
	}
	relSeq := ep.lastRel + int64(int32(p.Seq-ep.lastAbs))

	t.tcpHistory(e, isOrig, ep, flags, relSeq, length)

	if ack {
		if peer.state == tcpInactive {
			// Number the peer as though its SYN had been seen.
			peer.initSeq(p.Ack-1, true)
		} else if peer.seqInit() && !rst {
			rel := peer.lastRel + int64(int32(p.Ack-peer.lastAbs))
			if rel > peer.ackRel && !(p.Ack == 0 && rel-peer.ackRel > tooLargeSeqDelta) {
				peer.ackRel = rel
			}
		}
	}

	// Zeek's update_last_seq.
	relEnd := relSeq + segLen
	delta := relEnd - ep.lastRel
	switch {
	case (syn || rst) && (delta > tooLargeSeqDelta || delta < -tooLargeSeqDelta):
	case fin && ep.lastRel == 1:
		ep.setLast(relEnd, p.Seq+uint32(segLen))
	case ep.state == tcpReset:
	case delta > 0:
		ep.setLast(relEnd, p.Seq+uint32(segLen))
	case length > 0:
		r := &e.rxmit[d]
		if *r < 0xffff {
			*r++
		}
		if *r == 1 || *r == 10 || *r == 100 || *r == 1000 {
			e.appendHistory(historyCode(isOrig, 'T'))
		}
	}

	// Payload coverage, for missed bytes.
	if length > 0 && !rst {
		ds := relSeq
		if syn {
			ds++
		}
		de := ds + int64(length)
		if de > ep.dataHigh {
			if ds < ep.dataHigh {
				ds = ep.dataHigh
			}
			ep.covered += de - ds
			ep.dataHigh = de
		}
		if isOrig && !e.sniffed {
			e.sniffed = true
			t.sniff(e, p.Payload)
		}
	}

	t.tcpState(e, isOrig, ep, peer, syn, fin, rst, ack, length, p.Seq)
}

// initSeq starts an endpoint's sequence numbering at a SYN (seq is the
// initial sequence number) or, for a partial start, just before seq.
func (ep *endpoint) initSeq(seq uint32, syn bool) {
	ep.bits |= epSeqInit
	ep.ackRel, ep.dataHigh, ep.covered = 0, 1, 0
	ep.histSYN, ep.histFIN, ep.histRST = 0xffffffff, 0xffffffff, 0xffffffff
	if syn {
		ep.startAbs, ep.lastAbs, ep.lastRel = seq, seq, 0
		return
	}
	// As though a SYN had been seen at seq-1; the first packet is not a
	// duplicate.
	ep.startAbs, ep.lastAbs, ep.lastRel = seq-1, seq, 1
}

func (ep *endpoint) setLast(rel int64, abs uint32) {
	ep.lastRel, ep.lastAbs = rel, abs
}

// tcpHistory is Zeek's update_history.
func (t *Table) tcpHistory(e *entry, isOrig bool, ep *endpoint, flags uint8, relSeq int64, length int) {
	syn, fin, rst := flags&decode.SYN != 0, flags&decode.FIN != 0, flags&decode.RST != 0
	n := 0
	if syn {
		n++
	}
	if fin {
		n++
	}
	if rst {
		n++
	}
	switch {
	case n > 1:
		if fin && rst {
			e.addHistory(isOrig, histFINRST, 'I')
		} else {
			e.addHistory(isOrig, histMulti, 'Q')
		}
	case syn:
		bit, code := histSYN, byte('S')
		if flags&decode.ACK != 0 {
			bit, code = histSYNACK, 'H'
		}
		if e.addHistory(isOrig, bit, code) && uint32(relSeq) != ep.histSYN {
			e.appendHistory(historyCode(isOrig, code))
		}
		ep.histSYN = uint32(relSeq)
	case fin:
		end := relSeq + int64(length)
		if e.addHistory(isOrig, histFIN, 'F') && uint32(end) != ep.histFIN {
			e.appendHistory(historyCode(isOrig, 'F'))
		}
		ep.histFIN = uint32(end)
	case rst:
		if e.addHistory(isOrig, histRST, 'R') && uint32(relSeq) != ep.histRST {
			e.appendHistory(historyCode(isOrig, 'R'))
		}
		ep.histRST = uint32(relSeq)
	case length > 0:
		e.addHistory(isOrig, histData, 'D')
	case flags&decode.ACK != 0:
		e.addHistory(isOrig, histACK, 'A')
	}
}

func (ep *endpoint) setState(s tcpEndpointState) {
	ep.prevState = ep.state
	ep.state = s
}

// tcpState is Zeek's UpdateStateMachine plus ConnectionClosed, reduced to
// the transitions that decide conn_state. Long for the reason tcp is: it
// is the state machine, kept whole to be checked against Zeek's.
//
//gocyclo:ignore
func (t *Table) tcpState(e *entry, isOrig bool, ep, peer *endpoint, syn, fin, rst, ack bool, length int, seq uint32) {
	doClose := false
	switch ep.state {
	case tcpInactive:
		if syn {
			if isOrig {
				if ack {
					ep.setState(tcpSynAckSent)
				} else {
					ep.setState(tcpSynSent)
				}
			} else {
				if !ack && peer.state == tcpSynAckSent {
					// SYN/SYN-ACK reversal: the "originator" answered.
					t.flipRoles(e)
					ep, peer = peer, ep
					isOrig = true
					peer.setState(tcpEstablished)
				}
				if peer.state == tcpSynSent {
					peer.setState(tcpEstablished)
				}
				ep.setState(tcpEstablished)
			}
		}
		if fin {
			ep.setState(tcpClosed)
			doClose = true
		}
		if rst {
			ep.setState(tcpReset)
			doClose = true
		}
		if ep.state == tcpInactive {
			switch {
			case !isOrig && length == 0 && peer.state == tcpSynSent:
				// An ACK of the SYN before the SYN-ACK: not partial.
			case ack && peer.state == tcpEstablished:
				// SYN-ACK seen, SYN missed, now a pure ACK: established.
				ep.setState(tcpEstablished)
			default:
				ep.setState(tcpPartial)
			}
		}
	case tcpSynSent, tcpSynAckSent:
		if fin {
			ep.setState(tcpClosed)
			doClose = true
		}
		if rst {
			ep.setState(tcpReset)
			doClose = true
		}
	case tcpEstablished, tcpPartial:
		if syn && ep.state == tcpPartial && peer.state == tcpInactive && !ack {
			ep.setState(tcpSynSent)
		}
		if fin && !rst {
			ep.setState(tcpClosed)
			if peer.state == tcpReset && peer.prevState == tcpClosed {
				// FIN then RST from the peer was a normal close.
				peer.setState(tcpClosed)
			}
			doClose = true
		}
		if rst {
			ep.setState(tcpReset)
			doClose = true
		}
	case tcpClosed:
		if rst && peer.state != tcpClosed {
			ep.setState(tcpReset)
			if !ep.didClose() {
				doClose = true
			}
		}
	}
	if doClose && !ep.didClose() {
		ep.bits |= epDidClose
		if ep.state == tcpReset || peer.didClose() || peer.state == tcpInactive {
			e.closed = true
		}
	}
}

// flipRoles swaps originator and responder (Zeek's FlipRoles, which marks
// the history with '^').
func (t *Table) flipRoles(e *entry) {
	e.origIsA = !e.origIsA
	e.ep[0], e.ep[1] = e.ep[1], e.ep[0]
	e.mac[0], e.mac[1] = e.mac[1], e.mac[0]
	// Swap the per-side history bits and the case of recorded letters.
	e.histSeen = e.histSeen>>16 | e.histSeen<<16
	for i := 0; i < int(e.histLen); i++ {
		c := e.hist[i]
		switch {
		case c >= 'a' && c <= 'z':
			e.hist[i] = c - ('a' - 'A')
		case c >= 'A' && c <= 'Z':
			e.hist[i] = c + ('a' - 'A')
		}
	}
	e.appendHistory('^')
}

// size is Zeek's TCP_Endpoint::Size: the sequence range sent (or acked by
// the peer, whichever is further), without the SYN and FIN octets.
func (ep *endpoint) tcpSize(peer *endpoint) uint64 {
	if !ep.seqInit() {
		return 0
	}
	if ep.prevState == tcpSynSent && ep.state == tcpReset && peer.state == tcpInactive {
		return 0
	}
	s := ep.lastRel
	if ep.ackRel > s {
		s = ep.ackRel
	}
	if s > 0 {
		s--
	}
	if ep.flags&flagFIN != 0 && s > 0 {
		s--
	}
	if s < 0 {
		return 0
	}
	return uint64(s)
}

// missed is the part of the sequence range never seen as payload.
func (ep *endpoint) missed(size uint64) uint64 {
	if ep.covered >= int64(size) {
		return 0
	}
	return size - uint64(ep.covered)
}
