package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Options configures Run and Replay.
type Options struct {
	// Table configures the flow table (timeouts, MaxFlows). Its OnFlow and
	// ServerName fields are set by Run.
	Table flow.Config
	// OnFlow, when set, receives each finished flow as soon as it is
	// finished, with names filled in, instead of it being kept in
	// Result.Flows: this keeps memory flat on long captures. The *Flow is
	// reused after the call returns (see flow.Flow.Clone).
	OnFlow func(*flow.Flow)
	// Progress, when set, is called about every ProgressEvery (wall time)
	// with the counts so far, from the goroutine that called Run.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Names names flows from the DNS answers to the queries seen; with
	// it set, Flow.ServerName is filled from TLS SNI and HTTP Host. Nil:
	// Run makes one, unless NoNames is set.
	Names   *naming.Cache
	NoNames bool
	// Backend is recorded in Stats.Backend ("file" when empty).
	Backend string
}

// Progress is a running count for progress displays.
type Progress struct {
	Packets uint64
	Bytes   uint64
	// Flows counts flows created so far; Active those still open.
	Flows  uint64
	Active int
	// Last is the capture time of the latest packet (Unix nanoseconds).
	Last int64
	// InputRead and InputSize are the bytes of the input files read so far
	// and their total size (zero for live sources).
	InputRead, InputSize int64
	// Snapshot calls fn for each flow still in the table, as it would be
	// reported if it finished now (without names). Valid only during the
	// Progress callback; the *Flow is reused between calls. Live captures
	// use it for their Snapshot.
	Snapshot func(fn func(*flow.Flow))
}

// pipeline is one Run's state.
type pipeline struct {
	opts  Options
	res   *Result
	table *flow.Table
	names *naming.Cache
	dec   *decode.Decoder
	live  bool
	// input counts the bytes read from the input files (nil when live).
	input InputCounter
	// first and last are the capture times of the earliest and latest
	// packets, in Unix nanoseconds (converted into Stats at the end).
	first, last int64
	// unsupported counts the frames per link type the decoder does not
	// support. Only the reader goroutine writes it, until it hands over
	// its last batch; finish reads it after that.
	unsupported map[layers.LinkType]uint64
	// complete is set when input ended (cleanly or on a read error)
	// rather than being stopped by cancellation.
	complete bool
}

// Run reads src to its end (or until ctx is cancelled), rebuilds flows and
// returns them with the capture statistics. It works for live sources too:
// capture.ErrTimeout from Next means "no packet yet". A read error ends the
// run: the flows gathered so far are returned with the error. src is not
// closed.
func Run(ctx context.Context, src FrameReader, opts Options) (*Result, error) {
	pl := newPipeline(opts)
	err := pl.run(ctx, src)
	pl.finish()
	return pl.res, err
}

func newPipeline(opts Options) *pipeline {
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	if opts.Backend == "" {
		opts.Backend = "file"
	}
	pl := &pipeline{opts: opts, res: &Result{Flows: []flow.Flow{}}, dec: decode.NewDecoder(),
		unsupported: map[layers.LinkType]uint64{}}
	pl.res.Stats.Backend = opts.Backend
	pl.live = opts.Backend != "file"
	if !opts.NoNames {
		pl.names = opts.Names
		if pl.names == nil {
			pl.names = naming.NewCache()
		}
	}
	cfg := opts.Table
	cfg.OnFlow = pl.finished
	if pl.names != nil {
		cfg.ServerName = pl.serverName
	}
	pl.table = flow.NewTable(cfg)
	return pl
}

// observeDNS feeds a DNS query or answer to the name cache, which pairs them
// (TCP: one message whose 2-byte length prefix fits in this segment).
func (pl *pipeline) observeDNS(p *decode.Packet) {
	msg := p.Payload
	tr := naming.Transport{Src: netip.AddrPortFrom(p.Src, p.SrcPort), Dst: netip.AddrPortFrom(p.Dst, p.DstPort)}
	switch p.Proto {
	case flow.ProtoUDP:
	case flow.ProtoTCP:
		tr.TCP = true
		if len(msg) < 2 {
			return
		}
		l := int(msg[0])<<8 | int(msg[1])
		if l > len(msg)-2 {
			return
		}
		msg = msg[2 : 2+l]
	default:
		return
	}
	// A malformed or unsolicited answer is simply not used for naming.
	_ = pl.names.ObserveDNS(msg, p.TS, tr)
}

// serverName is the table's hook for a flow's first originator payload.
func (pl *pipeline) serverName(payload []byte) string {
	b, ok := naming.ServerName(payload)
	if !ok {
		return ""
	}
	return pl.names.Intern(b)
}

// finished names a finished flow and delivers or keeps it. Only DNS
// names its two sides: the flow's ServerName stays apart, since only the
// audit knows whether the gateway opened the flow, the one case where the
// name it asked for names the server (docs/naming.md).
func (pl *pipeline) finished(f *flow.Flow) {
	if pl.names != nil {
		ts := f.Start.UnixNano()
		f.OrigNames = pl.names.Names(f.Orig.Addr(), ts)
		f.RespNames = pl.names.Names(f.Resp.Addr(), ts)
	}
	if pl.opts.OnFlow != nil {
		pl.opts.OnFlow(f)
		return
	}
	// Copy in place rather than through Clone: the names were allocated
	// for this flow already, only the ICMP error points into the table.
	pl.res.Flows = append(pl.res.Flows, *f)
	if f.ICMP != nil {
		ic := *f.ICMP
		pl.res.Flows[len(pl.res.Flows)-1].ICMP = &ic
	}
}

func (pl *pipeline) progress(next *time.Time) {
	if pl.opts.Progress == nil {
		return
	}
	now := time.Now()
	if now.Before(*next) {
		return
	}
	*next = now.Add(pl.opts.ProgressEvery)
	ts := pl.table.Stats()
	p := Progress{Packets: pl.res.Stats.Packets, Bytes: pl.res.Stats.Bytes,
		Flows: ts.Flows, Active: ts.Active, Last: pl.last,
		Snapshot: pl.table.Snapshot}
	if pl.input != nil {
		p.InputRead, p.InputSize = pl.input.InputBytes()
	}
	pl.opts.Progress(p)
}

// finish flushes the table and copies its counters into the statistics.
func (pl *pipeline) finish() {
	pl.table.Flush()
	ts := pl.table.Stats()
	st := &pl.res.Stats
	if st.Packets > 0 {
		st.Start = time.Unix(0, pl.first).UTC()
		st.End = time.Unix(0, pl.last).UTC()
	}
	st.Flows = ts.Flows
	st.Evicted = ts.Evicted
	st.MissedBytes = ts.MissedBytes
	st.Warnings = append(st.Warnings, unsupportedWarnings(pl.unsupported)...)
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

// Replay runs src to its end as a replay of capture files does: a read
// error that ended the input (a truncated or damaged file) and an early
// stop are not errors but statistics and warnings, one line each, and the
// flows read so far are returned. When ctx is cancelled before the input
// has been read to its end, Stats.Interrupted is set and a warning says
// after how many packets. src is not closed.
func Replay(ctx context.Context, src FrameReader, opts Options) *Result {
	pl := newPipeline(opts)
	err := pl.run(ctx, src)
	pl.finish()
	st := &pl.res.Stats
	if err != nil {
		lines := warningLines(err)
		st.ReadErrors = append(st.ReadErrors, lines...)
		st.Warnings = append(st.Warnings, lines...)
	}
	if !pl.complete {
		st.Interrupted = true
		st.Warnings = append(st.Warnings,
			fmt.Sprintf("interrupted after %d packets: the input was not read to its end", st.Packets))
	}
	return pl.res
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
