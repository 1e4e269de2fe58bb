package analyze

import (
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// A UDP reply whose request the capture lacks (it holds what the gateway
// received only) becomes a flow of its own with the server as originator
// when neither port is one the flow table knows servers by: the table
// cannot know which side is the gateway. The audit can: such a flow is
// read as the reply it is (reversed) when it came to the gateway with
// nothing sent back, no applicable inbound requirement has its port, and
// an applicable outbound requirement has the peer's port and allows the
// peer. Then it is never an unexpected inbound flow to the gateway's
// ephemeral port.

// isReply reports whether f is such a reply.
func (a *Auditor) isReply(f *flow.Flow) bool {
	if f.Proto != flow.ProtoUDP || f.OrigPkts == 0 || f.RespPkts != 0 || f.ICMP != nil || strings.HasPrefix(f.History, "^") {
		return false
	}
	peer := f.Orig.Addr().Unmap()
	if !a.hs[f.Resp.Addr().Unmap()] || a.hs[peer] {
		return false
	}
	out := false
	for i := range a.rules {
		r := &a.rules[i]
		if !r.applies || r.proto != catalog.UDP {
			continue
		}
		switch r.dir {
		case catalog.In:
			if r.portOK(f.Resp.Port()) {
				return false
			}
		case catalog.Out:
			out = out || (r.portOK(f.Orig.Port()) && r.peerOK(peer, f.OrigNames))
		}
	}
	return out
}

// reversed returns f with its roles swapped, as the table would have
// built it had it known the server: a reply only, which proves its
// request (flow.Summary.Outcome), marked '^' as a swap is.
func reversed(f *flow.Flow) flow.Flow {
	g := *f
	g.Orig, g.Resp = f.Resp, f.Orig
	g.OrigPkts, g.RespPkts = f.RespPkts, f.OrigPkts
	g.OrigBytes, g.RespBytes = f.RespBytes, f.OrigBytes
	g.OrigNames, g.RespNames = f.RespNames, f.OrigNames
	g.ServerName = "" // it came from the server's payload
	g.Attempts = 0
	g.State = flow.StateSHR
	h := []byte{'^'}
	for _, c := range []byte(f.History) {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		h = append(h, c)
	}
	g.History = string(h)
	g.Outcome = flow.Summary{Proto: g.Proto, OrigPkts: g.OrigPkts, RespPkts: g.RespPkts,
		OrigBytes: g.OrigBytes, RespBytes: g.RespBytes}.Outcome()
	return g
}
