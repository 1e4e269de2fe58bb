package flow

// endpoint is one side of a flow, 64 bytes: one cache line. For TCP,
// sequence numbers are tracked as 64-bit offsets from the side's initial
// sequence number so that sizes beyond 4 GiB still come out right.
type endpoint struct {
	pkts     uint64
	lastRel  int64 // highest relative sequence end sent
	ackRel   int64 // highest relative sequence the peer acked
	dataHigh int64 // highest relative data byte end seen
	// covered is, for TCP, the payload bytes seen in sequence space; for
	// other protocols the payload bytes sent.
	covered  int64
	startAbs uint32 // initial sequence number
	lastAbs  uint32 // absolute sequence number at lastRel
	// Relative sequence numbers (low 32 bits) of the last SYN, FIN and RST,
	// for Zeek's repeated history letters.
	histSYN, histFIN, histRST uint32
	flags                     uint8 // OR of TCP flags sent
	state, prevState          tcpEndpointState
	bits                      uint8 // epSeqInit, epDidClose, epOut, epMACSrc
}

const (
	epSeqInit uint8 = 1 << iota
	epDidClose
	// epOut: a packet of this side was captured as outgoing (SLL).
	epOut
	// epMACSrc: entry.mac of this side is the source MAC of its own
	// frames (not the destination MAC of frames sent to it).
	epMACSrc
)

func (ep *endpoint) seqInit() bool  { return ep.bits&epSeqInit != 0 }
func (ep *endpoint) didClose() bool { return ep.bits&epDidClose != 0 }

// entry is a flow in the table: four cache lines (the key, hot flags and
// history bits; one endpoint each; then the rest). It holds no pointers, so the slab of
// entries is never scanned by the garbage collector.
type entry struct {
	key      Key
	last     int64
	gen      uint32 // bumped when the slot is freed: stale queue entries
	origIsA  bool
	list     uint8
	closed   bool
	sniffed  bool
	active   bool
	histLen  uint8
	hasICMP  bool // details in Table.icmpErrs
	_        uint8
	histSeen uint32

	ep [2]endpoint // orig, resp

	// The last line is touched only when a flow starts, when a history
	// letter is added and when the flow finishes.
	id         uint64
	start      int64
	attempts   uint32
	serverName uint32
	rxmit      [2]uint16
	// icmpType and icmpCode are the first message of an ICMP flow.
	icmpType, icmpCode uint8
	// mac is each side's link address (orig, resp) as an index into
	// Table.macs; 0: unknown.
	mac  [2]uint8
	hist [histCap]byte
}

// icmpInfo is the ICMP error attached to a flow; errors are rare, so they
// live in a side map instead of every entry.
type icmpInfo struct {
	typ, code uint8
	v6, from4 bool
	from      [16]byte
	ts        int64
}

const histCap = 32

// History bits, one per letter kind per side (orig in the low half).
const (
	histSYN uint32 = 1 << iota
	histSYNACK
	histACK
	histData
	histFIN
	histRST
	histFINRST
	histMulti
)

// addHistory records a history letter the first time its kind is seen on
// that side: upper case for the originator, lower case for the responder,
// as Zeek writes them. It reports whether the kind had been seen before.
func (e *entry) addHistory(isOrig bool, bit uint32, code byte) bool {
	if !isOrig {
		bit <<= 16
		code += 'a' - 'A'
	}
	if e.histSeen&bit != 0 {
		return true
	}
	e.histSeen |= bit
	e.appendHistory(code)
	return false
}

func (e *entry) appendHistory(code byte) {
	if int(e.histLen) < histCap {
		e.hist[e.histLen] = code
		e.histLen++
	}
}

// historyCode is the letter for side isOrig.
func historyCode(isOrig bool, code byte) byte {
	if isOrig {
		return code
	}
	return code + 'a' - 'A'
}
