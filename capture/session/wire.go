package session

import (
	"net/netip"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// The wire structs are the file format. They are converted explicitly to
// and from the in-memory records (flow.Flow, capture.Stats, Header,
// Trailer), so those can change without changing the files: a field that
// the conversions do not carry fails TestWireCarriesEveryField. Version 2
// writes them in this order: the header, the flows one per line, the
// trailer (wireHeader, wireFlow, wireTrailer); readers take the keys in
// any order. Version 1 (legacy.go) had the trailer's fields first and its
// own form of hosts.

// wireHeader is what a session knows when the capture starts.
type wireHeader struct {
	Format      string       `json:"format"`
	Version     int          `json:"version"`
	ToolVersion string       `json:"tool_version"`
	Node        string       `json:"node"`
	Iface       string       `json:"iface,omitempty"`
	Backend     string       `json:"backend"`
	Start       time.Time    `json:"start,omitzero"`
	Context     *wireContext `json:"context,omitempty"`
}

// wireTrailer is what a session knows when the capture ends. Start is
// written here only when the header could not give it (Writer.SetStart).
type wireTrailer struct {
	Start time.Time  `json:"start,omitzero"`
	End   time.Time  `json:"end,omitzero"`
	Hosts *wireHosts `json:"hosts,omitempty"`
	Stats wireStats  `json:"stats"`
}

// wireContext is Context.
type wireContext struct {
	Products []string        `json:"products"`
	Catalogs []wireFile      `json:"catalogs,omitempty"`
	Site     *wireSite       `json:"site,omitempty"`
	Features map[string]bool `json:"features,omitempty"`
}

// wireFile is FileRecord.
type wireFile struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Content string `json:"content"`
}

// wireSite is SiteRecord.
type wireSite struct {
	File     string                    `json:"file"`
	SHA256   string                    `json:"sha256"`
	Hosts    []netip.Addr              `json:"hosts"`
	Zones    map[string][]netip.Prefix `json:"zones"`
	Features map[string]bool           `json:"features"`
}

// wireHosts is capture.HostsDecision as one capture records it: its
// origin by name ("flag", "site", "interface", "inferred", "recorded",
// "none") with that origin's detail.
type wireHosts struct {
	Addrs     []netip.Addr   `json:"addrs"`
	Origin    string         `json:"origin"`
	Iface     string         `json:"iface,omitempty"`
	SiteFile  string         `json:"site_file,omitempty"`
	Inference *wireInference `json:"inference,omitempty"`
	Note      string         `json:"note,omitempty"`
}

type wireInference struct {
	Chosen []wireHostCount `json:"chosen"`
	Guess  bool            `json:"guess,omitempty"`
}

type wireHostCount struct {
	Addr        netip.Addr `json:"addr"`
	Flows       int        `json:"flows"`
	FamilyFlows int        `json:"family_flows"`
	// By is capture.HostsBy's name, left out for "flows" (version 2's
	// first files recorded only that way).
	By  string   `json:"by,omitempty"`
	MAC flow.MAC `json:"mac,omitzero"`
}

// wireStats is capture.Stats.
type wireStats struct {
	Backend     string     `json:"backend"`
	Files       []string   `json:"files,omitempty"`
	Iface       string     `json:"iface,omitempty"`
	Start       time.Time  `json:"start,omitzero"`
	End         time.Time  `json:"end,omitzero"`
	Packets     uint64     `json:"packets"`
	Bytes       uint64     `json:"bytes"`
	Flows       uint64     `json:"flows"`
	Undecodable uint64     `json:"undecodable"`
	IfaceDrops  uint64     `json:"iface_drops"`
	KernelDrops uint64     `json:"kernel_drops"`
	Duplicates  uint64     `json:"duplicates,omitempty"`
	MissedBytes uint64     `json:"missed_bytes"`
	Evicted     uint64     `json:"evicted"`
	ReadErrors  []string   `json:"read_errors,omitempty"`
	Interrupted bool       `json:"interrupted,omitempty"`
	Warnings    []string   `json:"warnings,omitempty"`
	Attribution string     `json:"attribution,omitempty"`
	Spans       []wireSpan `json:"spans,omitempty"`
	// LocalDrops is capture.Stats.LocalDrops.
	LocalDrops *wireDropStats `json:"local_drops,omitempty"`
}

// wireDropStats is capture.LocalDropStats.
type wireDropStats struct {
	ByReason  map[string]uint64 `json:"by_reason,omitempty"`
	Recorded  uint64            `json:"recorded"`
	MapFull   uint64            `json:"map_full"`
	Truncated uint64            `json:"truncated"`
	NotIP     uint64            `json:"not_ip"`
	Evicted   uint64            `json:"evicted"`
	Forgotten uint64            `json:"forgotten,omitempty"`
}

type wireSpan struct {
	Node  string    `json:"node"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// wireFlow is flow.Flow, with the names version 1 gave its fields.
type wireFlow struct {
	UID         string         `json:"uid"`
	Proto       uint8          `json:"proto"`
	Orig        netip.AddrPort `json:"orig"`
	Resp        netip.AddrPort `json:"resp"`
	Start       time.Time      `json:"start,omitzero"`
	End         time.Time      `json:"end,omitzero"`
	OrigPkts    uint64         `json:"orig_pkts"`
	RespPkts    uint64         `json:"resp_pkts"`
	OrigBytes   uint64         `json:"orig_bytes"`
	RespBytes   uint64         `json:"resp_bytes"`
	State       string         `json:"conn_state"`
	History     string         `json:"history"`
	Outcome     string         `json:"outcome"`
	Attempts    int            `json:"attempts"`
	ICMP        *wireICMP      `json:"icmp,omitempty"`
	MissedBytes uint64         `json:"missed_bytes,omitempty"`
	OrigNames   []string       `json:"orig_names,omitempty"`
	RespNames   []string       `json:"resp_names,omitempty"`
	ServerName  string         `json:"server_name,omitempty"`
	Open        bool           `json:"open,omitempty"`
	Evicted     bool           `json:"evicted,omitempty"`
	Node        string         `json:"node,omitempty"`
	Process     *wireProcess   `json:"process,omitempty"`
	LocalDrop   *wireLocalDrop `json:"local_drop,omitempty"`
	Link        *wireLink      `json:"link,omitempty"`
}

// wireLink is flow.Link; a MAC is written "02:00:00:00:00:01".
type wireLink struct {
	OrigMAC flow.MAC `json:"orig_mac,omitzero"`
	RespMAC flow.MAC `json:"resp_mac,omitzero"`
	OrigOut bool     `json:"orig_out,omitempty"`
	RespOut bool     `json:"resp_out,omitempty"`
}

type wireICMP struct {
	Type    uint8      `json:"type"`
	Code    uint8      `json:"code"`
	Version uint8      `json:"version"`
	From    netip.Addr `json:"from"`
	Time    time.Time  `json:"time"`
	Reason  string     `json:"reason"`
}

type wireProcess struct {
	PID  uint32 `json:"pid"`
	Comm string `json:"comm"`
}

type wireLocalDrop struct {
	Hook    string `json:"hook"`
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
	Rule    string `json:"rule,omitempty"`
}

// flowToWire fills w (reused between calls) from f.
func flowToWire(f *flow.Flow, w *wireFlow) {
	*w = wireFlow{UID: f.UID, Proto: f.Proto, Orig: f.Orig, Resp: f.Resp, Start: f.Start, End: f.End,
		OrigPkts: f.OrigPkts, RespPkts: f.RespPkts, OrigBytes: f.OrigBytes, RespBytes: f.RespBytes,
		State: string(f.State), History: f.History, Outcome: string(f.Outcome), Attempts: f.Attempts,
		MissedBytes: f.MissedBytes, OrigNames: f.OrigNames, RespNames: f.RespNames, ServerName: f.ServerName,
		Open: f.Open, Evicted: f.Evicted, Node: f.Node}
	if ic := f.ICMP; ic != nil {
		w.ICMP = &wireICMP{Type: ic.Type, Code: ic.Code, Version: ic.Version, From: ic.From, Time: ic.Time, Reason: ic.Reason}
	}
	if p := f.Process; p != nil {
		w.Process = &wireProcess{PID: p.PID, Comm: p.Comm}
	}
	if d := f.LocalDrop; d != nil {
		w.LocalDrop = &wireLocalDrop{Hook: d.Hook, Reason: d.Reason, Packets: d.Packets, Rule: d.Rule}
	}
	if l := f.Link; !l.IsZero() {
		w.Link = &wireLink{OrigMAC: l.OrigMAC, RespMAC: l.RespMAC, OrigOut: l.OrigOut, RespOut: l.RespOut}
	}
}

// flowScratch holds what a reused flow.Flow points to.
type flowScratch struct {
	icmp    flow.ICMPError
	process flow.Process
	drop    flow.LocalDrop
}

// toFlow fills f (reused between calls) from w, its pointers into sc.
// Times are in UTC.
func (w *wireFlow) toFlow(f *flow.Flow, sc *flowScratch) {
	*f = flow.Flow{UID: w.UID, Proto: w.Proto, Orig: w.Orig, Resp: w.Resp, Start: utc(w.Start), End: utc(w.End),
		OrigPkts: w.OrigPkts, RespPkts: w.RespPkts, OrigBytes: w.OrigBytes, RespBytes: w.RespBytes,
		State: flow.ConnState(w.State), History: w.History, Outcome: flow.Outcome(w.Outcome), Attempts: w.Attempts,
		MissedBytes: w.MissedBytes, OrigNames: w.OrigNames, RespNames: w.RespNames, ServerName: w.ServerName,
		Open: w.Open, Evicted: w.Evicted, Node: w.Node}
	if ic := w.ICMP; ic != nil {
		sc.icmp = flow.ICMPError{Type: ic.Type, Code: ic.Code, Version: ic.Version, From: ic.From, Time: utc(ic.Time), Reason: ic.Reason}
		f.ICMP = &sc.icmp
	}
	if p := w.Process; p != nil {
		sc.process = flow.Process{PID: p.PID, Comm: p.Comm}
		f.Process = &sc.process
	}
	if d := w.LocalDrop; d != nil {
		sc.drop = flow.LocalDrop{Hook: d.Hook, Reason: d.Reason, Packets: d.Packets, Rule: d.Rule}
		f.LocalDrop = &sc.drop
	}
	if l := w.Link; l != nil {
		f.Link = flow.Link{OrigMAC: l.OrigMAC, RespMAC: l.RespMAC, OrigOut: l.OrigOut, RespOut: l.RespOut}
	}
}

// utc is t in UTC, the zero time kept zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func statsToWire(s *capture.Stats) wireStats {
	w := wireStats{Backend: s.Backend, Files: s.Files, Iface: s.Iface, Start: s.Start, End: s.End,
		Packets: s.Packets, Bytes: s.Bytes, Flows: s.Flows, Undecodable: s.Undecodable, IfaceDrops: s.IfaceDrops,
		KernelDrops: s.KernelDrops, Duplicates: s.Duplicates, MissedBytes: s.MissedBytes, Evicted: s.Evicted, ReadErrors: s.ReadErrors,
		Interrupted: s.Interrupted, Warnings: s.Warnings, Attribution: s.Attribution}
	for _, sp := range s.Spans {
		w.Spans = append(w.Spans, wireSpan(sp))
	}
	if d := s.LocalDrops; d != nil {
		w.LocalDrops = &wireDropStats{ByReason: d.ByReason, Recorded: d.Recorded, MapFull: d.MapFull,
			Truncated: d.Truncated, NotIP: d.NotIP, Evicted: d.Evicted, Forgotten: d.Forgotten}
	}
	return w
}

func (w *wireStats) toStats() capture.Stats {
	s := capture.Stats{Backend: w.Backend, Files: w.Files, Iface: w.Iface, Start: utc(w.Start), End: utc(w.End),
		Packets: w.Packets, Bytes: w.Bytes, Flows: w.Flows, Undecodable: w.Undecodable, IfaceDrops: w.IfaceDrops,
		KernelDrops: w.KernelDrops, Duplicates: w.Duplicates, MissedBytes: w.MissedBytes, Evicted: w.Evicted, ReadErrors: w.ReadErrors,
		Interrupted: w.Interrupted, Warnings: w.Warnings, Attribution: w.Attribution}
	for _, sp := range w.Spans {
		s.Spans = append(s.Spans, capture.Span{Node: sp.Node, Start: utc(sp.Start), End: utc(sp.End)})
	}
	if d := w.LocalDrops; d != nil {
		s.LocalDrops = &capture.LocalDropStats{ByReason: d.ByReason, Recorded: d.Recorded, MapFull: d.MapFull,
			Truncated: d.Truncated, NotIP: d.NotIP, Evicted: d.Evicted, Forgotten: d.Forgotten}
	}
	return s
}

// hostsToWire is nil for OriginNone without addresses: nothing recorded.
func hostsToWire(d *capture.HostsDecision) *wireHosts {
	if d.Origin == capture.OriginNone && len(d.Addrs) == 0 {
		return nil
	}
	w := &wireHosts{Addrs: d.Addrs, Origin: d.Origin.String(), Iface: d.Iface, SiteFile: d.SiteFile, Note: d.Note}
	if w.Addrs == nil {
		w.Addrs = []netip.Addr{}
	}
	if inf := d.Inference; inf != nil {
		w.Inference = &wireInference{Chosen: []wireHostCount{}, Guess: inf.Guess}
		for _, c := range inf.Chosen {
			wc := wireHostCount{Addr: c.Addr, Flows: c.Flows, FamilyFlows: c.FamilyFlows, MAC: c.MAC}
			if c.By != capture.ByFlows {
				wc.By = c.By.String()
			}
			w.Inference.Chosen = append(w.Inference.Chosen, wc)
		}
	}
	return w
}

// toHosts converts w, whose origin check accepted.
func (w *wireHosts) toHosts() capture.HostsDecision {
	if w == nil {
		return capture.HostsDecision{}
	}
	d := capture.HostsDecision{Addrs: w.Addrs, Iface: w.Iface, SiteFile: w.SiteFile, Note: w.Note}
	_ = d.Origin.UnmarshalText([]byte(w.Origin))
	if len(d.Addrs) == 0 {
		d.Addrs = nil
	}
	if inf := w.Inference; inf != nil {
		d.Inference = &capture.HostsInference{Guess: inf.Guess}
		for _, c := range inf.Chosen {
			by, _ := capture.ParseHostsBy(c.By) // checked by checkV2
			d.Inference.Chosen = append(d.Inference.Chosen, capture.HostCount{Addr: c.Addr, Flows: c.Flows,
				FamilyFlows: c.FamilyFlows, By: by, MAC: c.MAC})
		}
	}
	return d
}

func contextToWire(c *Context) *wireContext {
	if c == nil {
		return nil
	}
	w := &wireContext{Products: c.Products, Features: c.Features}
	if w.Products == nil {
		w.Products = []string{}
	}
	for _, f := range c.Catalogs {
		w.Catalogs = append(w.Catalogs, wireFile(f))
	}
	if s := c.Site; s != nil {
		ws := wireSite(*s)
		w.Site = &ws
	}
	return w
}

func (w *wireContext) toContext() *Context {
	if w == nil {
		return nil
	}
	c := &Context{Products: w.Products, Features: w.Features}
	for _, f := range w.Catalogs {
		c.Catalogs = append(c.Catalogs, FileRecord(f))
	}
	if s := w.Site; s != nil {
		rs := SiteRecord(*s)
		c.Site = &rs
	}
	return c
}
