package flow

// FirstPacketFlip reports whether the sender of a flow's first packet is
// the responder, by the rules the Table applies when it creates a flow:
// a TCP SYN-ACK always flips, a pure SYN never does, other TCP packets and
// UDP use the likely-server-port heuristic; ICMP and other protocols never
// flip. The eBPF backend calls it on the first packet the kernel recorded,
// so both capture paths pick the same originator.
func FirstPacketFlip(proto, tcpFlags uint8, sport, dport uint16) bool {
	switch proto {
	case ProtoTCP:
		return tcpFlip(tcpFlags, sport, dport)
	case ProtoUDP:
		return likelyServerPort(sport) && !likelyServerPort(dport)
	}
	return false
}

// ICMPReason names an ICMP (v6 false) or ICMPv6 error type and code as
// ICMPError.Reason documents, the same way the Table does.
func ICMPReason(v6 bool, typ, code uint8) string { return icmpReason(v6, typ, code) }
