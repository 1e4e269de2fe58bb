package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture/decode"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// PacketOptions configures a packet source.
type PacketOptions struct {
	// Table configures the flow table (timeouts, MaxFlows); its OnFlow and
	// ServerName fields are set by the source.
	Table flow.Config
	// Backend is recorded in Stats.Backend. "" or "file" is a replay of
	// capture files: a stop before the end of input is an interruption
	// (Stats.Interrupted). Any other name ("afpacket") is a live source:
	// a partly filled batch is handed over after 50 ms, and a stop is the
	// normal end.
	Backend string
	// Iface is recorded in Stats.Iface (live sources).
	Iface string
	// KernelDrops, when set, returns the packets the kernel dropped so
	// far (a live socket's counters), for Progress and the final Stats.
	KernelDrops func() uint64
}

// Packets returns the Source that rebuilds flows from the frames of r:
// decoded on a reader goroutine, tracked in a flow.Table on the goroutine
// running it, DNS and server names fed to the Emitter, nothing allocated
// per packet. It works for live readers too (ErrTimeout from Next means
// "no packet yet"). A read error ends the run: the flows gathered so far
// are delivered and the error returned. r is not closed. Run may be
// called once.
func Packets(r FrameReader, o PacketOptions) Source {
	if o.Backend == "" {
		o.Backend = "file"
	}
	return &packets{r: r, o: o}
}

type packets struct {
	r FrameReader
	o PacketOptions
}

// Run implements Source.
func (s *packets) Run(ctx context.Context, e *Emitter) (Stats, error) {
	pl := newPipeline(s.r, s.o, e)
	err := pl.run(ctx)
	pl.finish()
	return pl.stats, err
}

// pipeline is one packet source's run.
type pipeline struct {
	o     PacketOptions
	e     *Emitter
	src   FrameReader
	stats Stats
	table *flow.Table
	dec   *decode.Decoder
	live  bool
	// active iterates the table's open flows (made once: no allocation
	// per progress report).
	active iter.Seq[*flow.Flow]
	// input counts the bytes read from the input files (nil when live).
	input InputCounter
	// first and last are the capture times of the earliest and latest
	// packets, in Unix nanoseconds (converted into Stats at the end).
	first, last int64
	// unsupported counts the frames per link type the decoder does not
	// support. Only the reader goroutine writes it, until it hands over
	// its last batch; finish reads it after that.
	unsupported map[layers.LinkType]uint64
	// dups drops the copies of a packet a capture on "any" sees on
	// several interfaces (reader goroutine only); nil until a cooked frame.
	dups *dedup
	// complete is set when input ended (cleanly or on a read error)
	// rather than being stopped by cancellation.
	complete bool
	// started is when a live source's run began: its window's start.
	started time.Time
}

func newPipeline(src FrameReader, o PacketOptions, e *Emitter) *pipeline {
	pl := &pipeline{o: o, e: e, src: src, dec: decode.NewDecoder(),
		unsupported: map[layers.LinkType]uint64{}}
	pl.stats.Backend = o.Backend
	pl.stats.Iface = o.Iface
	pl.live = o.Backend != "file"
	if pl.live {
		pl.started = time.Now()
	}
	pl.input, _ = src.(InputCounter)
	cfg := o.Table
	cfg.OnFlow = e.Flow
	cfg.ServerName = nil
	if e.Naming() {
		cfg.ServerName = e.ServerName
	}
	pl.table = flow.NewTable(cfg)
	pl.active = func(yield func(*flow.Flow) bool) {
		more := true
		pl.table.Snapshot(func(f *flow.Flow) {
			if more {
				more = yield(f)
			}
		})
	}
	return pl
}

// observeDNS feeds a DNS query or answer to the Emitter's name cache,
// which pairs them.
func (pl *pipeline) observeDNS(p *decode.Packet) {
	if p.Proto != flow.ProtoUDP && p.Proto != flow.ProtoTCP {
		return
	}
	tr := naming.Transport{Src: netip.AddrPortFrom(p.Src, p.SrcPort), Dst: netip.AddrPortFrom(p.Dst, p.DstPort),
		TCP: p.Proto == flow.ProtoTCP}
	pl.e.ObserveDNS(p.Payload, p.TS, tr)
}

// progress hands the counts so far to the Emitter when a report is due.
func (pl *pipeline) progress() {
	if !pl.e.ProgressDue() {
		return
	}
	ts := pl.table.Stats()
	p := Progress{Stats: pl.stats, Active: ts.Active, ActiveFlows: pl.active}
	p.Stats.Flows = ts.Flows
	pl.times(&p.Stats)
	if pl.o.KernelDrops != nil {
		p.Stats.KernelDrops = pl.o.KernelDrops()
	}
	if pl.input != nil {
		p.InputRead, p.InputSize = pl.input.InputBytes()
	}
	pl.e.Progress(p)
}

// times sets st's Start and End from the first and latest packets, and
// for a live source to its window so far (Stats.SetWindow).
func (pl *pipeline) times(st *Stats) {
	if st.Packets > 0 {
		st.Start = time.Unix(0, pl.first).UTC()
		st.End = time.Unix(0, pl.last).UTC()
	}
	if pl.live {
		st.SetWindow(pl.started, time.Now())
	}
}

// finish flushes the table (every open flow is delivered, marked Open)
// and copies its counters into the statistics.
func (pl *pipeline) finish() {
	pl.table.Flush()
	ts := pl.table.Stats()
	st := &pl.stats
	pl.times(st)
	st.Flows = ts.Flows
	st.Evicted = ts.Evicted
	st.MissedBytes = ts.MissedBytes
	if pl.o.KernelDrops != nil {
		st.KernelDrops = pl.o.KernelDrops()
	}
	st.Warnings = append(st.Warnings, unsupportedWarnings(pl.unsupported)...)
	if !pl.live && !pl.complete {
		st.Interrupted = true
		st.Warnings = append(st.Warnings,
			fmt.Sprintf("interrupted after %d packets: the input was not read to its end", st.Packets))
	}
}

// unsupportedWarnings says, one line per link type in numeric order, how
// many frames were skipped because the decoder does not support their
// link type.
func unsupportedWarnings(counts map[layers.LinkType]uint64) []string {
	links := slices.Sorted(maps.Keys(counts))
	out := make([]string, 0, len(links))
	for _, l := range links {
		frames := "frames"
		if counts[l] == 1 {
			frames = "frame"
		}
		if wrapperLinks[l] {
			// The decoder knows these; what it could not decode is the
			// link type they wrap.
			out = append(out, fmt.Sprintf("link type %s wraps a link type that is not supported: %d %s skipped",
				linkName(l), counts[l], frames))
			continue
		}
		out = append(out, fmt.Sprintf("link type %s is not supported: %d %s skipped", linkName(l), counts[l], frames))
	}
	return out
}

// wrapperLinks are link types whose frames carry a header naming the link
// type of the frame inside (Apple PKTAP, and USER2 as macOS writes it).
var wrapperLinks = map[layers.LinkType]bool{149: true, 258: true}

// linkNames are tcpdump's names (pcap-linktype(7)) of link types seen in
// the wild that the decoder does not support, for warnings.
var linkNames = map[layers.LinkType]string{
	3: "AX25", 6: "IEEE802_5 (token ring)", 7: "ARCNET_BSD", 8: "SLIP", 10: "FDDI",
	100: "ATM_RFC1483", 107: "FRELAY", 114: "LTALK", 119: "PRISM_HEADER", 122: "IP_OVER_FC",
	123: "SUNATM", 129: "ARCNET_LINUX", 138: "APPLE_IP_OVER_IEEE1394", 139: "MTP2_WITH_PHDR",
	140: "MTP2", 141: "MTP3", 142: "SCCP", 143: "DOCSIS", 144: "LINUX_IRDA",
	147: "USER0", 148: "USER1", 149: "USER2", 163: "IEEE802_11_AVS", 177: "LINUX_LAPD",
	187: "BLUETOOTH_HCI_H4", 189: "USB_LINUX", 192: "PPI", 195: "IEEE802_15_4_WITHFCS",
	201: "BLUETOOTH_HCI_H4_WITH_PHDR", 220: "USB_LINUX_MMAPPED", 224: "FC_2",
	225: "FC_2_WITH_FRAME_DELIMS", 227: "CAN_SOCKETCAN", 235: "DVB_CI", 249: "USBPCAP",
	253: "NETLINK", 258: "PKTAP", 263: "IPOIB", 266: "NORDIC_BLE", 297: "ETW",
}

// linkName names a link type with its number: "ARCNET_LINUX (129)".
func linkName(l layers.LinkType) string {
	if n, ok := linkNames[l]; ok {
		return fmt.Sprintf("%s (%d)", n, uint16(l))
	}
	return strconv.Itoa(int(l))
}

// Replay runs src as a replay of capture files does: a read error that
// ended the input (a truncated or damaged file) is not an error but
// statistics and warnings (Stats.ReadErrors), one line each, and the flows
// read so far have been delivered. When ctx is cancelled before the input
// has been read to its end, the packet source of a file has set
// Stats.Interrupted and a warning says after how many packets.
func Replay(ctx context.Context, src Source, sink Sink, opts Options) Stats {
	st, err := Run(ctx, src, sink, opts)
	if err != nil {
		lines := warningLines(err)
		st.ReadErrors = append(st.ReadErrors, lines...)
		st.Warnings = append(st.Warnings, lines...)
	}
	return st
}

// warningLines splits a (possibly joined) read error into one line each.
func warningLines(err error) []string {
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, warningLines(e)...)
		}
		return out
	}
	msg := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = fmt.Sprintf("%s (truncated: flows up to this point are kept)", msg)
	case errors.Is(err, ErrDamaged):
		msg = fmt.Sprintf("%s (the rest of the file is not read: flows up to this point are kept)", msg)
	}
	return append(out, msg)
}
