package flow

import (
	"hash/maphash"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Packed is a Flow in 128 bytes plus what it shares with other packed
// flows, for where many flows are held at once: the analyzer's flows held
// until the gateway addresses are inferred, those the end of a capture
// cut off, those the scanner test holds. A Flow takes about 350 bytes and
// a pointer or string header per name, ICMP error and process.
//
// Packing loses nothing: Unpack gives back every field (times in UTC,
// which is how both backends and session files give them, and empty name
// lists as nil, which JSON does not tell apart), and
// TestPackCarriesEveryField fails when a field is added to Flow that
// Pack does not carry. What most flows have is kept inline; what few
// have (an ICMP error, a process, a local drop, missed bytes, an IPv6
// zone, a value outside the vocabularies) goes to one side record, so it
// costs nothing when absent. The strings many flows share (node, history,
// names, ICMP reasons) are interned in the PackTable that packed the
// flow, which Unpack needs.
type Packed struct {
	orig, resp [16]byte
	start, end int64 // Unix nanoseconds; noTime for the zero time
	origPkts   uint64
	respPkts   uint64
	origBytes  uint64
	respBytes  uint64
	uid        string
	names      *packedNames // nil: no names
	rare       *packedRare  // nil: none of its fields
	attempts   uint16       // bigAttempts in rare past MaxUint16
	link       uint16       // PackTable.links index; inRare: rare.link
	origPort   uint16
	respPort   uint16
	node       uint16 // PackTable.strs index; inRare: rare.node
	history    uint16 // PackTable.hists index; inRare: rare.history
	proto      uint8
	state      uint8 // 1 + index into ConnStates; 0: ""; codeRare: rare.state
	outcome    uint8 // 1 + index into Outcomes; 0: ""; codeRare: rare.outcome
	bits       uint8 // packOpen, packEvicted, the two address families
}

// Packed.bits.
const (
	packOpen    = 1 << 0
	packEvicted = 1 << 1
	// Each address's family takes two bits: 0 invalid, famV4, famV6.
	origFamShift = 2
	respFamShift = 4
	famV4        = 1
	famV6        = 2
)

// codeRare is the state or outcome code of a value outside the
// vocabulary, kept in the side record; inRare the same for an interned
// string when its table is full.
const (
	codeRare = math.MaxUint8
	inRare   = math.MaxUint16
)

// noTime stands for the zero time.Time, which Unix nanoseconds cannot hold.
const noTime = math.MinInt64

// packedNames are a flow's names, shared by every flow with the same
// ones in an interning PackTable.
type packedNames struct {
	orig, resp []string
	server     string
}

// packedRare holds what few flows have.
type packedRare struct {
	icmp        *ICMPError
	process     *Process
	drop        *LocalDrop
	missedBytes uint64
	// Values the inline fields cannot hold.
	attempts           int
	bigAttempts        bool
	start, end         time.Time
	farTimes           bool // start and end are here (outside int64 nanoseconds)
	origZone, respZone string
	state              ConnState
	outcome            Outcome
	node, history      string
	link               Link
}

// PackTable interns the strings packed flows share and unpacks them. Flows
// packed by one table are unpacked by the same table. Not safe for
// concurrent use.
type PackTable struct {
	strs  interned // nodes, ICMP reasons, local drop hooks and reasons
	hists interned
	links internedLinks // a link has few MAC pairs: the gateway's, its router's
	// names interns name lists by their hash; nil for a transient table.
	names map[uint64][]*packedNames
	seed  maphash.Seed
	uids  UIDs // chunks the UIDs are copied into (an interning table)
}

// NewPackTable returns a table that interns names and carves UIDs from
// shared chunks: the least memory for flows that are all kept until the
// table is dropped (an audit's held flows).
func NewPackTable() *PackTable {
	return &PackTable{strs: newInterned(), hists: newInterned(), links: newInternedLinks(),
		names: map[uint64][]*packedNames{}, seed: maphash.MakeSeed()}
}

// NewTransientPackTable returns a table for flows that come and go over a
// long run (the scanner test's): each packed flow owns its UID and names,
// freed with it, so the table does not grow with the distinct names seen.
// The strings it interns (nodes, histories, ICMP reasons) are few.
func NewTransientPackTable() *PackTable {
	return &PackTable{strs: newInterned(), hists: newInterned(), links: newInternedLinks()}
}

// Clone returns a copy of t that unpacks every flow t packed so far and
// packs on its own from then on: a snapshot of an audit forks its tables
// and drops the copy. UIDs are carved from a chunk of the copy's own, so
// strings it makes never share bytes with t's later ones.
func (t *PackTable) Clone() *PackTable {
	c := &PackTable{strs: t.strs.clone(), hists: t.hists.clone(), links: t.links.clone(), seed: t.seed}
	if t.names != nil {
		c.names = make(map[uint64][]*packedNames, len(t.names))
		for k, v := range t.names {
			c.names[k] = slices.Clone(v)
		}
	}
	return c
}

// Pack returns f packed. The Packed holds nothing f points to: f may be
// reused after the call.
func (t *PackTable) Pack(f *Flow) Packed {
	p := Packed{origPkts: f.OrigPkts, respPkts: f.RespPkts, origBytes: f.OrigBytes, respBytes: f.RespBytes,
		origPort: f.Orig.Port(), respPort: f.Resp.Port(), proto: f.Proto}
	var r packedRare
	var of, rf uint8
	p.orig, of, r.origZone = packAddr(f.Orig.Addr())
	p.resp, rf, r.respZone = packAddr(f.Resp.Addr())
	p.bits = of<<origFamShift | rf<<respFamShift
	if f.Open {
		p.bits |= packOpen
	}
	if f.Evicted {
		p.bits |= packEvicted
	}
	p.start, p.end = packTime(f.Start), packTime(f.End)
	if (p.start == noTime) != f.Start.IsZero() || (p.end == noTime) != f.End.IsZero() {
		r.start, r.end, r.farTimes = f.Start, f.End, true
	}
	if f.Attempts >= 0 && f.Attempts <= math.MaxUint16 {
		p.attempts = uint16(f.Attempts)
	} else {
		r.attempts, r.bigAttempts = f.Attempts, true
	}
	p.state = vocabCode(ConnStates, f.State)
	if p.state == codeRare {
		r.state = ConnState(strings.Clone(string(f.State)))
	}
	p.outcome = vocabCode(Outcomes, f.Outcome)
	if p.outcome == codeRare {
		r.outcome = Outcome(strings.Clone(string(f.Outcome)))
	}
	p.node = t.strs.of(f.Node, &r.node)
	p.history = t.hists.of(f.History, &r.history)
	p.link = t.links.of(f.Link, &r.link)
	p.uid = t.uid(f.UID)
	p.names = t.nameLists(f)
	t.packRare(f, &r)
	if r != (packedRare{}) {
		rare := r // only then on the heap
		p.rare = &rare
	}
	return p
}

// packRare copies into r the pointed-to parts of f: ICMP error, process,
// local drop.
func (t *PackTable) packRare(f *Flow, r *packedRare) {
	r.missedBytes = f.MissedBytes
	if f.ICMP != nil {
		ic := *f.ICMP
		ic.Reason = t.strs.intern(ic.Reason)
		r.icmp = &ic
	}
	if f.Process != nil {
		pr := Process{PID: f.Process.PID, Comm: strings.Clone(f.Process.Comm)}
		r.process = &pr
	}
	if f.LocalDrop != nil {
		d := *f.LocalDrop
		d.Hook, d.Reason, d.Rule = t.strs.intern(d.Hook), t.strs.intern(d.Reason), strings.Clone(d.Rule)
		r.drop = &d
	}
}

// Unpack fills f (which may be reused between calls: every field is set)
// from p. No allocation: f's names, ICMP error, process and local drop
// are shared with p and the table, so f must not be changed through them.
func (t *PackTable) Unpack(p *Packed, f *Flow) {
	r := p.rare
	if r == nil {
		r = &noRare
	}
	*f = Flow{UID: p.uid, Proto: p.proto,
		Orig:     netip.AddrPortFrom(unpackAddr(p.orig, p.bits>>origFamShift&3, r.origZone), p.origPort),
		Resp:     netip.AddrPortFrom(unpackAddr(p.resp, p.bits>>respFamShift&3, r.respZone), p.respPort),
		Start:    unpackTime(p.start),
		End:      unpackTime(p.end),
		OrigPkts: p.origPkts, RespPkts: p.respPkts, OrigBytes: p.origBytes, RespBytes: p.respBytes,
		Attempts: int(p.attempts), ICMP: r.icmp, MissedBytes: r.missedBytes,
		Open: p.bits&packOpen != 0, Evicted: p.bits&packEvicted != 0,
		Process: r.process, LocalDrop: r.drop}
	f.State = vocabValue(ConnStates, p.state, r.state)
	f.Outcome = vocabValue(Outcomes, p.outcome, r.outcome)
	f.Node = t.strs.value(p.node, r.node)
	f.History = t.hists.value(p.history, r.history)
	f.Link = t.links.value(p.link, r.link)
	if n := p.names; n != nil {
		f.OrigNames, f.RespNames, f.ServerName = n.orig, n.resp, n.server
	}
	if r.farTimes {
		f.Start, f.End = r.start, r.end
	}
	if r.bigAttempts {
		f.Attempts = r.attempts
	}
}

// noRare stands for a missing side record.
var noRare packedRare

// uid keeps a copy of a UID: in the table's chunks (interning tables),
// else a string of its own.
func (t *PackTable) uid(s string) string {
	if t.names == nil || len(s) == 0 || len(s) > 64 {
		return strings.Clone(s)
	}
	g := &t.uids
	if len(g.chunk) < len(s) {
		g.chunk = make([]byte, 64<<10)
	}
	b := g.chunk[:len(s):len(s)]
	g.chunk = g.chunk[len(s):]
	copy(b, s)
	return unsafeString(b)
}

// nameLists returns f's names: shared with every flow that has the same
// ones (interning tables), else a copy of their own; nil when it has none.
func (t *PackTable) nameLists(f *Flow) *packedNames {
	if len(f.OrigNames) == 0 && len(f.RespNames) == 0 && f.ServerName == "" {
		return nil
	}
	if t.names == nil {
		return &packedNames{cloneStrings(f.OrigNames), cloneStrings(f.RespNames), strings.Clone(f.ServerName)}
	}
	h := namesHash(t.seed, f)
	for _, n := range t.names[h] {
		if slices.Equal(n.orig, f.OrigNames) && slices.Equal(n.resp, f.RespNames) && n.server == f.ServerName {
			return n
		}
	}
	n := &packedNames{cloneStrings(f.OrigNames), cloneStrings(f.RespNames), strings.Clone(f.ServerName)}
	t.names[h] = append(t.names[h], n)
	return n
}

// namesHash hashes f's name lists, telling ["a","b"] from ["ab"] and the
// two sides apart.
func namesHash(seed maphash.Seed, f *Flow) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, list := range [2][]string{f.OrigNames, f.RespNames} {
		for _, s := range list {
			h.WriteString(s)
			h.WriteByte(0)
		}
		h.WriteByte(1)
	}
	h.WriteString(f.ServerName)
	return h.Sum64()
}

func cloneStrings(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

// interned is a table of up to inRare distinct strings, "" first.
type interned struct {
	list []string
	idx  map[string]uint16
}

func (t interned) clone() interned {
	return interned{list: slices.Clone(t.list), idx: maps.Clone(t.idx)}
}

func newInterned() interned { return interned{list: []string{""}, idx: map[string]uint16{"": 0}} }

// of returns s's index; when the table is full, inRare, with a copy of s
// in *spill.
func (t *interned) of(s string, spill *string) uint16 {
	if i, ok := t.idx[s]; ok {
		return i
	}
	if len(t.list) == inRare {
		*spill = strings.Clone(s)
		return inRare
	}
	s = strings.Clone(s)
	t.idx[s] = uint16(len(t.list))
	t.list = append(t.list, s)
	return uint16(len(t.list) - 1)
}

// intern returns the table's copy of s (a copy of its own when the table
// is full).
func (t *interned) intern(s string) string {
	var spill string
	if i := t.of(s, &spill); i != inRare {
		return t.list[i]
	}
	return spill
}

// value is the string of index i (spill when i is inRare).
func (t *interned) value(i uint16, spill string) string {
	if i == inRare {
		return spill
	}
	return t.list[i]
}

// internedLinks is a table of up to inRare distinct Links, the zero Link
// first.
type internedLinks struct {
	list []Link
	idx  map[Link]uint16
}

func newInternedLinks() internedLinks {
	return internedLinks{list: []Link{{}}, idx: map[Link]uint16{{}: 0}}
}

func (t internedLinks) clone() internedLinks {
	return internedLinks{list: slices.Clone(t.list), idx: maps.Clone(t.idx)}
}

// of returns l's index; when the table is full, inRare, with l in *spill.
func (t *internedLinks) of(l Link, spill *Link) uint16 {
	if i, ok := t.idx[l]; ok {
		return i
	}
	if len(t.list) == inRare {
		*spill = l
		return inRare
	}
	t.idx[l] = uint16(len(t.list))
	t.list = append(t.list, l)
	return uint16(len(t.list) - 1)
}

func (t *internedLinks) value(i uint16, spill Link) Link {
	if i == inRare {
		return spill
	}
	return t.list[i]
}

// vocabCode codes v as 1 + its index in vocab, 0 for "", codeRare when it
// is not in vocab.
func vocabCode[T ~string](vocab []T, v T) uint8 {
	if v == "" {
		return 0
	}
	if i := slices.Index(vocab, v); i >= 0 {
		return uint8(i + 1)
	}
	return codeRare
}

func vocabValue[T ~string](vocab []T, code uint8, rare T) T {
	switch code {
	case 0:
		return ""
	case codeRare:
		return rare
	}
	return vocab[code-1]
}

// packAddr returns a's 16 bytes, family and zone.
func packAddr(a netip.Addr) (b [16]byte, fam uint8, zone string) {
	switch {
	case a.Is4():
		return a.As16(), famV4, ""
	case a.Is6():
		return a.As16(), famV6, strings.Clone(a.Zone())
	}
	return b, 0, ""
}

func unpackAddr(b [16]byte, fam uint8, zone string) netip.Addr {
	switch fam {
	case famV4:
		return netip.AddrFrom16(b).Unmap()
	case famV6:
		a := netip.AddrFrom16(b)
		if zone != "" {
			a = a.WithZone(zone)
		}
		return a
	}
	return netip.Addr{}
}

// packTime returns t in Unix nanoseconds, or noTime when t is zero or
// outside what int64 nanoseconds hold (years 1678 to 2262): the caller
// keeps such a time whole.
func packTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	n := t.UnixNano()
	if n == noTime || !time.Unix(0, n).Equal(t) {
		return noTime
	}
	return n
}

func unpackTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
