package flow

import (
	"slices"
	"strconv"
)

// The vocabularies a Flow's string fields come from, listed once: session
// files check against them, the analyzer codes them, and the eBPF backend
// produces them. They are stable strings (JSON reports and sessions carry
// them), in the order messages list them.

// Outcomes lists every Outcome.
var Outcomes = []Outcome{Established, Rejected, Unreachable, Unanswered, Unknown, NotSent}

// ParseOutcome returns the Outcome named s, and whether s names one.
func ParseOutcome(s string) (Outcome, bool) {
	o := Outcome(s)
	return o, slices.Contains(Outcomes, o)
}

// ConnStates lists Zeek's conn_state values.
var ConnStates = []ConnState{StateS0, StateS1, StateSF, StateREJ, StateS2, StateS3,
	StateRSTO, StateRSTR, StateRSTOS0, StateRSTRH, StateSH, StateSHR, StateOTH}

// ParseConnState returns the ConnState named s, and whether s names one.
func ParseConnState(s string) (ConnState, bool) {
	c := ConnState(s)
	return c, slices.Contains(ConnStates, c)
}

// ICMP error reasons: ICMPError.Reason of the errors ICMPReason names; any
// other error is "icmp-TYPE-CODE" (ICMPTypeCode).
const (
	ReasonAdminProhibited  = "admin-prohibited"
	ReasonPortUnreachable  = "port-unreachable"
	ReasonHostUnreachable  = "host-unreachable"
	ReasonNetUnreachable   = "net-unreachable"
	ReasonProtoUnreachable = "proto-unreachable"
	ReasonFragNeeded       = "frag-needed"
	ReasonTTLExceeded      = "ttl-exceeded"
)

// ICMPReasons lists the named ICMP error reasons.
var ICMPReasons = []string{ReasonAdminProhibited, ReasonPortUnreachable, ReasonHostUnreachable,
	ReasonNetUnreachable, ReasonProtoUnreachable, ReasonFragNeeded, ReasonTTLExceeded}

// ICMPTypeCode is the reason of an ICMP error with no name: "icmp-3-13"
// for type 3 code 13.
func ICMPTypeCode(typ, code uint8) string {
	return "icmp-" + strconv.Itoa(int(typ)) + "-" + strconv.Itoa(int(code))
}

// ValidICMPReason reports whether r is a reason a capture can give an ICMP
// error of this type and code: one of ICMPReasons, or its own
// ICMPTypeCode.
func ValidICMPReason(r string, typ, code uint8) bool {
	return slices.Contains(ICMPReasons, r) || r == ICMPTypeCode(typ, code)
}
