package labtest

import (
	"fmt"
	"slices"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Verdict is the comparable fields of a flow: what two capture backends
// must agree on.
type Verdict struct {
	Proto              uint8
	Orig, Resp         string
	OrigPkts, RespPkts uint64
	OrigBytes          uint64
	RespBytes          uint64
	State              flow.ConnState
	Outcome            flow.Outcome
	Attempts           int
	ICMP               string
	Open               bool
	// Names is the flow's server name and sorted names, both sides.
	Names string
}

// VerdictOf is f's Verdict (names sorted).
func VerdictOf(f flow.Flow) Verdict {
	v := Verdict{Proto: f.Proto, Orig: f.Orig.String(), Resp: f.Resp.String(), OrigPkts: f.OrigPkts,
		RespPkts: f.RespPkts, OrigBytes: f.OrigBytes, RespBytes: f.RespBytes, State: f.State,
		Outcome: f.Outcome, Attempts: f.Attempts, Open: f.Open}
	on, rn := slices.Clone(f.OrigNames), slices.Clone(f.RespNames)
	slices.Sort(on)
	slices.Sort(rn)
	v.Names = fmt.Sprint(f.ServerName, on, rn)
	if f.ICMP != nil {
		v.ICMP = fmt.Sprintf("v%d %d/%d %s from %s", f.ICMP.Version, f.ICMP.Type, f.ICMP.Code, f.ICMP.Reason, f.ICMP.From)
	}
	return v
}
