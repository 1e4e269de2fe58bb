package analyze

import (
	"net/netip"
	"slices"

	"github.com/axiomhq/hyperloglog"
	"github.com/bits-and-blooms/bloom/v3"

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
	// foldedWorkedPeers and foldedWorkedFP size the Bloom filter of folded
	// peers that worked (about 9.6 KiB, allocated at the first fold):
	// 1 % false positives at 8192 such peers, more beyond, which only
	// makes the remote-side rule more cautious.
	foldedWorkedPeers = 8192
	foldedWorkedFP    = 0.01
)

// peerAcc gathers what was seen of one peer.
type peerAcc struct {
	addr   netip.Addr
	names  []string // few per peer: a slice beats a map
	counts Counts
	// foldedWorked: the peer was folded before, and may have worked then
	// (peerTable.worked): the remote-side rule cannot take it for a peer
	// that never answered.
	foldedWorked bool
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
	// worked holds the folded peers that had a flow that worked (or may,
	// once the capture's coverage is known): nil until the first fold.
	worked *bloom.BloomFilter
}

func newPeerTable(max int) peerTable {
	return peerTable{max: max, idx: map[[16]byte]int32{}}
}

// add counts one flow of peer addr (verdict vd) with the names the flow
// gave it.
func (t *peerTable) add(addr netip.Addr, names []string, vd verdict) {
	key := addr.As16() // addresses are unmapped: IPv4 and IPv6 cannot collide
	if i, ok := t.idx[key]; ok {
		t.count(int(i), names, vd)
		return
	}
	if len(t.peers) < t.max {
		t.peers = append(t.peers, t.newPeer(addr, key))
		t.idx[key] = int32(len(t.peers) - 1)
		t.zero++
		t.count(len(t.peers)-1, names, vd)
		return
	}
	if fails(vd) && t.zero > 0 {
		i := t.victim()
		t.fold(t.peers[i].addr, t.peers[i].counts)
		delete(t.idx, t.peers[i].addr.As16())
		t.peers[i] = t.newPeer(addr, key)
		t.idx[key] = int32(i)
		t.zero++ // until count sees its failure
		t.count(i, names, vd)
		return
	}
	var c Counts
	countOutcome(&c, vd)
	t.fold(addr, c)
}

// newPeer starts tracking addr, remembering whether it may have worked
// while it was folded.
func (t *peerTable) newPeer(addr netip.Addr, key [16]byte) peerAcc {
	return peerAcc{addr: addr, foldedWorked: t.worked != nil && t.worked.Test(key[:])}
}

// count adds a flow to tracked peer i.
func (t *peerTable) count(i int, names []string, vd verdict) {
	p := &t.peers[i]
	had := p.counts.mayFail()
	countOutcome(&p.counts, vd)
	if !had && p.counts.mayFail() {
		t.zero--
	}
	for _, n := range names {
		if n = normName(n); !slices.Contains(p.names, n) && len(p.names) < maxPeerNames {
			p.names = append(p.names, n)
		}
	}
}

// fails reports whether a flow counted as vd is a failed attempt, or one
// the capture's coverage may make a failure at Report (peers that may
// have failed are tracked first, as those that did).
func fails(vd verdict) bool {
	if vd.pending {
		return false
	}
	if vd.prov != provNone {
		return vd.prov == provNoAnswer || vd.prov == provRespReject
	}
	return vd.out != flow.Established && vd.out != flow.Unknown && vd.out != ""
}

// mayFail reports whether c holds a failed attempt, or a provisional flow
// Report may judge one.
func (c Counts) mayFail() bool {
	return c.Failed() > 0 || c.prov[provNoAnswer] > 0 || c.prov[provRespReject] > 0
}

// victim is the tracked peer without a failed attempt that has the fewest
// flows (the highest address on a tie): the one the report would list
// last. Only called when there is one (t.zero > 0).
func (t *peerTable) victim() int {
	best := -1
	for i := range t.peers {
		p := &t.peers[i]
		if p.counts.mayFail() {
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
	if c.Established > 0 || c.prov[provRespAnswer] > 0 {
		if t.worked == nil {
			t.worked = bloom.NewWithEstimates(foldedWorkedPeers, foldedWorkedFP)
		}
		t.worked.Add(key[:])
	}
}

// foldedWorked estimates how many distinct folded peers worked.
func (t *peerTable) foldedWorked() int {
	if t.worked == nil {
		return 0
	}
	return int(t.worked.ApproximatedSize())
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
	if t.worked != nil {
		c.worked = t.worked.Copy()
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
	a.Inconclusive += b.Inconclusive
	for i := range a.prov {
		a.prov[i] += b.prov[i]
	}
}
