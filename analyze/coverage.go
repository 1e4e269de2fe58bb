package analyze

import (
	"fmt"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// A capture can hold one direction of the traffic only: asymmetric
// routing, a one-way tap or SPAN port, the wrong interface or one member
// of a bond. The audit measures which sides it holds (coverage) and
// judges the flows seen from one side by what that side proves
// (docs/report.md "One-sided captures"). These thresholds decide when a
// side is missing.
const (
	// MinOneSidedFlows is how many established TCP flows must show none
	// of the gateway's received (or sent) packets before the capture is
	// taken to lack them: fewer can be capture loss.
	MinOneSidedFlows = 5
	// OneSidedPercent is the share of the established TCP flows (those
	// with both sides plus those missing this side) that must miss the
	// side. A healthy capture has none: an established connection sends
	// both ways. 20 % rather than "most" so that asymmetric routing of
	// part of the traffic also makes the audit judge cautiously.
	OneSidedPercent = 20
)

// Coverage says which sides of the audited flows the capture holds.
type Coverage struct {
	// Out and In count the flows the gateway opened and those peers
	// opened, by the sides the capture shows.
	Out SideCounts `json:"out"`
	In  SideCounts `json:"in"`
	// Received and Sent judge the packets the gateway received and those
	// it sent, from established TCP flows.
	Received SideCheck `json:"received"`
	Sent     SideCheck `json:"sent"`
}

// SideCounts counts flows by the sides the capture holds: both, the
// originator's only (its requests, or attempts nothing answered), or the
// responder's only (answers whose request the capture lacks; an ICMP
// error quoting a packet it lacks counts here too).
type SideCounts struct {
	Both     int `json:"both"`
	OrigOnly int `json:"orig_only"`
	RespOnly int `json:"resp_only"`
}

// SideCheck is the evidence about one direction of packets.
type SideCheck struct {
	// EstablishedTCP counts the TCP flows whose handshake completed, as
	// both sides or either side alone prove it, among those with both
	// sides or without this one.
	EstablishedTCP int `json:"established_tcp"`
	// Without counts those of them the capture holds none of these
	// packets of: the other side proves the connection worked.
	Without int `json:"without"`
	// Missing: the capture lacks these packets (at least
	// MinOneSidedFlows flows without them, and OneSidedPercent of the
	// established ones). Flows that would need them to be judged are
	// then inconclusive.
	Missing bool `json:"missing"`
}

// coverageAcc gathers Coverage in fixed memory: counters only.
type coverageAcc struct {
	dirs      [2]SideCounts // in, out
	estBoth   int           // established TCP flows with both sides
	estNoRecv int           // ... without the packets the gateway received
	estNoSent int           // ... without those it sent
}

// note counts flow f, which the gateway opened (out) or a peer did.
func (c *coverageAcc) note(f *flow.Flow, out bool) {
	d := &c.dirs[0]
	if out {
		d = &c.dirs[1]
	}
	switch {
	case f.OrigPkts > 0 && f.RespPkts > 0:
		d.Both++
	case f.OrigPkts > 0:
		d.OrigOnly++
	default:
		d.RespOnly++
	}
	if f.Proto != flow.ProtoTCP || f.Outcome != flow.Established {
		return
	}
	switch {
	case f.OrigPkts > 0 && f.RespPkts > 0:
		c.estBoth++
	case (f.RespPkts == 0) == out:
		// The responder's packets missing from an outbound flow, or the
		// originator's from an inbound one: those came to the gateway.
		c.estNoRecv++
	default:
		c.estNoSent++
	}
}

// noteSides counts f in the coverage when one side of it is a gateway
// address and it is not link-local housekeeping.
func (t *tally) noteSides(a *Auditor, f *flow.Flow) {
	out := a.hs[f.Orig.Addr().Unmap()]
	if !out && !a.hs[f.Resp.Addr().Unmap()] {
		return
	}
	if housekeepingKind(f) != "" || f.Outcome == flow.NotSent {
		// A flow that never reached the wire says nothing of the capture.
		return
	}
	t.cov.note(f, out)
}

// report returns the Coverage with its decisions.
func (c *coverageAcc) report() Coverage {
	check := func(without int) SideCheck {
		all := without + c.estBoth
		return SideCheck{EstablishedTCP: all, Without: without,
			Missing: without >= MinOneSidedFlows && without*100 >= all*OneSidedPercent}
	}
	return Coverage{In: c.dirs[0], Out: c.dirs[1], Received: check(c.estNoRecv), Sent: check(c.estNoSent)}
}

// sidesFor says which sides of the flows of direction d the capture
// lacks: an outbound flow's originator sends what the gateway sent.
func (c *Coverage) sidesFor(d catalog.Direction) sides {
	if d == catalog.Out {
		return sides{origHidden: c.Sent.Missing, respHidden: c.Received.Missing}
	}
	return sides{origHidden: c.Received.Missing, respHidden: c.Sent.Missing}
}

// coverageWarnings say, in one line each, which packets the capture
// lacks, with the numbers, the likely cause and the fix.
func coverageWarnings(c *Coverage) []string {
	var out []string
	for _, x := range []struct {
		chk        SideCheck
		what, seen string
	}{{c.Received, "received", "sent"}, {c.Sent, "sent", "received"}} {
		if !x.chk.Missing {
			continue
		}
		out = append(out, fmt.Sprintf("the capture lacks what the gateway %s: %d of %d established TCP flows show only what it %s "+
			"(likely asymmetric routing, a one-way tap or SPAN port, the wrong interface or one member of a bond); "+
			"attempts that need those packets to be judged are inconclusive: capture on \"any\", on the bond, "+
			"or on both interfaces and give both files to replay, which merges them",
			x.what, x.chk.Without, x.chk.EstablishedTCP, x.seen))
	}
	return out
}

// prov is how a flow seen from one side only counts until the capture's
// coverage is known (at Report): what it proves depends on whether the
// capture lacks the other side altogether.
type prov uint8

const (
	provNone prov = iota
	// provNoAnswer: the originator's packets only, and no answer, in a
	// way that proves nothing by itself (UDP, ICMP, other protocols, a
	// TCP SYN not retransmitted). Unanswered when the capture shows the
	// responders' side of such flows, else inconclusive.
	provNoAnswer
	// provRespReject: the responder's RST+ACK only. Rejected when the
	// capture lacks the originators' side, else unknown (an RST to a
	// packet the gateway never sent is backscatter).
	provRespReject
	// provRespAnswer: a UDP, ICMP or other reply only. Established when
	// the capture lacks the originators' side, else unknown.
	provRespAnswer
	// provRespSynAck: a SYN-ACK without proof the handshake completed.
	// Inconclusive when the capture lacks the originators' side (the SYN
	// arrived; nothing tells whether the ACK did), else unknown.
	provRespSynAck
	numProv
)

// provisional classifies f, counted with outcome out (after the one-way
// rule), for the rules above.
func provisional(f *flow.Flow, out flow.Outcome) prov {
	if localFailure(f) != "" {
		// The gateway's kernel says what became of it: judged.
		return provNone
	}
	switch {
	case f.OrigPkts > 0 && f.RespPkts == 0:
		if out != flow.Unanswered || (f.Proto == flow.ProtoTCP && f.Attempts >= 2) {
			// A retransmitted SYN proves that no SYN-ACK, RST or ICMP
			// error reached the originator's stack: judged, whichever
			// side the capture holds.
			return provNone
		}
		return provNoAnswer
	case f.OrigPkts == 0 && f.RespPkts > 0:
		switch {
		case out == flow.Rejected:
			return provRespReject
		case out == flow.Established && f.Proto != flow.ProtoTCP:
			return provRespAnswer
		case out == flow.Unknown && f.Proto == flow.ProtoTCP && strings.IndexByte(f.History, 'h') >= 0:
			return provRespSynAck
		}
	}
	return provNone
}

// sides says which sides of a direction's flows the capture lacks.
type sides struct{ origHidden, respHidden bool }

// resolve says what a provisional flow counts as: an outcome, or
// inconclusive.
func (s sides) resolve(p prov) (out flow.Outcome, inconclusive bool) {
	switch p {
	case provNoAnswer:
		return flow.Unanswered, s.respHidden
	case provRespReject:
		if s.origHidden {
			return flow.Rejected, false
		}
	case provRespAnswer:
		if s.origHidden {
			return flow.Established, false
		}
	case provRespSynAck:
		return flow.Unknown, s.origHidden
	}
	return flow.Unknown, false
}

// resolved returns c with its provisional flows counted as s decides.
func (c Counts) resolved(s sides) Counts {
	for p := provNoAnswer; p < numProv; p++ {
		n := c.prov[p]
		if n == 0 {
			continue
		}
		out, inc := s.resolve(p)
		if inc {
			c.Inconclusive += n
			continue
		}
		switch out {
		case flow.Established:
			c.Established += n
		case flow.Rejected:
			c.Rejected += n
		case flow.Unanswered:
			c.Unanswered += n
		default:
			c.Unknown += n
			continue
		}
		c.Attempts += n
	}
	c.prov = [numProv]int{}
	return c
}

// verdict is how one flow counts: its outcome, or pending (cut off by the
// end of the capture), or provisional (prov: decided at Report).
type verdict struct {
	out     flow.Outcome
	pending bool
	prov    prov
}

// inconclusiveNote says why a requirement's attempts were not judged
// (c: its counts before resolution), or why never-seen is not a verdict
// here; "" when neither applies.
func inconclusiveNote(c Counts, d catalog.Direction, s sides) string {
	var parts []string
	if n := c.prov[provNoAnswer]; n > 0 && s.respHidden {
		parts = append(parts, fmt.Sprintf("%d attempt(s) without an answer not judged: replies are not in this capture (it lacks what the gateway %s)",
			n, map[bool]string{true: "received", false: "sent"}[d == catalog.Out]))
	}
	if n := c.prov[provRespSynAck]; n > 0 && s.origHidden {
		parts = append(parts, fmt.Sprintf("%d attempt(s) answered with a SYN-ACK not judged: the requests are not in this capture, "+
			"and a SYN-ACK alone does not prove the handshake completed", n))
	}
	return strings.Join(parts, "; ")
}

// unseenNote explains an applicable requirement with nothing judged in a
// capture that lacks its attempts' side: attempts nothing answered would
// not show.
func unseenNote(d catalog.Direction) string {
	who := "sent"
	if d == catalog.In {
		who = "received"
	}
	return "nothing judged, and the capture lacks what the gateway " + who + ": attempts that got no answer would not show, so never-seen is not a verdict here"
}

// hiddenNote qualifies a verdict reached in a capture that lacks the side
// its attempts come from: attempts nothing answered would not show.
func hiddenNote(d catalog.Direction) string {
	who := "sent"
	if d == catalog.In {
		who = "received"
	}
	return "the capture lacks what the gateway " + who + ": attempts that got no answer would not show"
}
