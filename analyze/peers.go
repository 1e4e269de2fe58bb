package analyze

import (
	"net/netip"
	"slices"

	"github.com/axiomhq/hyperloglog"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Peer tracking is bounded: a requirement keeps at most maxReqPeers peers
// with their own counts, an unexpected group maxGroupPeers, and the flows
// of every other peer are counted together (folded). A SYN flood from
// random sources then costs each requirement a fixed amount of memory,
// while every count stays exact in total.
const (
	maxReqPeers   = 128 // MaxPeers of them are listed
	maxGroupPeers = 32
	// maxPeerNames bounds the names kept per peer (learned names are
	// few; more would come from forged answers).
	maxPeerNames = 8
	// foldPrecision is the HyperLogLog precision of the folded-peer
	// estimate: 2^10 one-byte registers (1 KiB), standard error ~3 %.
	foldPrecision = 10
)

// peerAcc gathers what was seen of one peer.
type peerAcc struct {
	addr   netip.Addr
	names  []string // few per peer: a slice beats a map
	counts Counts
}

// peerTable holds the peers of one requirement or unexpected group. Peers
// are tracked in order of first appearance until the table is full; then
// a peer whose flow failed takes the place of the tracked peer with no
// failed attempt and the fewest flows (that peer is folded), so the peers
// the report lists first (most failures) are kept; any other new peer is
// folded at once. A peer with a failed attempt is never folded once
// tracked, so listed failure counts are exact.
type peerTable struct {
	max   int
	idx   map[[16]byte]int32 // keyed by As16: cheaper to hash than netip.Addr
	peers []peerAcc
	zero  int // tracked peers without a failed attempt
	// rest counts the flows of folded peers, exactly; folded estimates how
	// many distinct peers they came from (nil until the first fold).
	rest   Counts
	folded *hyperloglog.Sketch
}

func newPeerTable(max int) peerTable {
	return peerTable{max: max, idx: map[[16]byte]int32{}}
}

// add counts one flow of peer addr (outcome out, pending or not) with the
// names the flow gave it.
func (t *peerTable) add(addr netip.Addr, names []string, out flow.Outcome, pending bool) {
	key := addr.As16() // addresses are unmapped: IPv4 and IPv6 cannot collide
	if i, ok := t.idx[key]; ok {
		t.count(int(i), names, out, pending)
		return
	}
	if len(t.peers) < t.max {
		t.peers = append(t.peers, peerAcc{addr: addr})
		t.idx[key] = int32(len(t.peers) - 1)
		t.zero++
		t.count(len(t.peers)-1, names, out, pending)
		return
	}
	if fails(out, pending) && t.zero > 0 {
		i := t.victim()
		t.fold(t.peers[i].addr, t.peers[i].counts)
		delete(t.idx, t.peers[i].addr.As16())
		t.peers[i] = peerAcc{addr: addr}
		t.idx[key] = int32(i)
		t.zero++ // until count sees its failure
		t.count(i, names, out, pending)
		return
	}
	var c Counts
	countOutcome(&c, out, pending)
	t.fold(addr, c)
}

// count adds a flow to tracked peer i.
func (t *peerTable) count(i int, names []string, out flow.Outcome, pending bool) {
	p := &t.peers[i]
	had := p.counts.Failed() > 0
	countOutcome(&p.counts, out, pending)
	if !had && p.counts.Failed() > 0 {
		t.zero--
	}
	for _, n := range names {
		if n = normName(n); !slices.Contains(p.names, n) && len(p.names) < maxPeerNames {
			p.names = append(p.names, n)
		}
	}
}

// fails reports whether a flow with this outcome is a failed attempt.
func fails(out flow.Outcome, pending bool) bool {
	return !pending && out != flow.Established && out != flow.Unknown && out != ""
}

// victim is the tracked peer without a failed attempt that has the fewest
// flows (the highest address on a tie): the one the report would list
// last. Only called when there is one (t.zero > 0).
func (t *peerTable) victim() int {
	best := -1
	for i := range t.peers {
		p := &t.peers[i]
		if p.counts.Failed() > 0 {
			continue
		}
		if best < 0 || p.counts.Flows < t.peers[best].counts.Flows ||
			(p.counts.Flows == t.peers[best].counts.Flows && p.addr.Compare(t.peers[best].addr) > 0) {
			best = i
		}
	}
	t.zero--
	return best
}

// fold counts c as flows of an untracked peer.
func (t *peerTable) fold(addr netip.Addr, c Counts) {
	addCounts(&t.rest, c)
	if t.folded == nil {
		t.folded, _ = hyperloglog.NewSketch(foldPrecision, false) // the precision is valid
	}
	key := addr.As16()
	t.folded.Insert(key[:])
}

// foldedPeers estimates how many distinct peers were folded.
func (t *peerTable) foldedPeers() int {
	if t.folded == nil {
		return 0
	}
	// The estimate of a nonempty set is at least one peer.
	return max(1, int(t.folded.Estimate()))
}

func (t *peerTable) clone() peerTable {
	c := *t
	c.idx = make(map[[16]byte]int32, len(t.idx))
	for k, v := range t.idx {
		c.idx[k] = v
	}
	c.peers = slices.Clone(t.peers)
	for i := range c.peers {
		c.peers[i].names = slices.Clone(c.peers[i].names)
	}
	if t.folded != nil {
		c.folded = t.folded.Clone()
	}
	return c
}

// addCounts adds b to a.
func addCounts(a *Counts, b Counts) {
	a.Flows += b.Flows
	a.Attempts += b.Attempts
	a.Established += b.Established
	a.Rejected += b.Rejected
	a.Unreachable += b.Unreachable
	a.Unanswered += b.Unanswered
	a.Unknown += b.Unknown
	a.Pending += b.Pending
}
