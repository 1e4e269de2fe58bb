package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture/decode"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/naming"
)

// Options configures Run and ReadFiles.
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
	// Resolver names flows from DNS answers, TLS SNI and HTTP Host. Nil:
	// Run makes one, unless NoNames is set.
	Resolver *naming.Resolver
	NoNames  bool
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
	names *naming.Resolver
	dec   *decode.Decoder
	live  bool
	// input counts the bytes read from the input files (nil when live).
	input InputCounter
	// first and last are the capture times of the earliest and latest
	// packets, in Unix nanoseconds (converted into Stats at the end).
	first, last int64
}

// Run reads src to its end (or until ctx is cancelled), rebuilds flows and
// returns them with the capture statistics. It works for live sources too:
// capture.ErrTimeout from Next means "no packet yet". A read error ends the
// run: the flows gathered so far are returned with the error. src is not
// closed.
func Run(ctx context.Context, src Source, opts Options) (*Result, error) {
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
	pl := &pipeline{opts: opts, res: &Result{Flows: []flow.Flow{}}, dec: decode.NewDecoder()}
	pl.res.Stats.Backend = opts.Backend
	pl.live = opts.Backend != "file"
	if !opts.NoNames {
		pl.names = opts.Resolver
		if pl.names == nil {
			pl.names = naming.NewResolver()
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

// observeDNS feeds a DNS answer to the resolver (TCP: one message whose
// 2-byte length prefix fits in this segment).
func (pl *pipeline) observeDNS(p *decode.Packet) {
	msg := p.Payload
	switch p.Proto {
	case flow.ProtoUDP:
	case flow.ProtoTCP:
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
	// A malformed answer is simply not used for naming.
	_ = pl.names.ObserveDNS(msg, p.TS)
}

// serverName is the table's hook for a flow's first originator payload.
func (pl *pipeline) serverName(payload []byte) string {
	b, ok := naming.ServerName(payload)
	if !ok {
		return ""
	}
	return pl.names.Intern(b)
}

// finished names a finished flow and delivers or keeps it.
func (pl *pipeline) finished(f *flow.Flow) {
	if pl.names != nil {
		ts := f.Start.UnixNano()
		f.OrigNames = pl.names.Names(f.Orig.Addr(), ts)
		f.RespNames = pl.names.Names(f.Resp.Addr(), ts)
		if f.ServerName != "" && !contains(f.RespNames, f.ServerName) {
			f.RespNames = append(f.RespNames, f.ServerName)
		}
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
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
}

// ReadFiles replays capture files (pcap, pcapng, gzip of either) merged in
// time order. A file that cannot be opened or is not a capture is an error
// naming it; a damaged or truncated file is not: the flows read so far are
// returned and Stats.Warnings says what happened, one line per file.
func ReadFiles(ctx context.Context, paths []string, opts Options) (*Result, error) {
	src, err := OpenFiles(paths)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	res, err := Run(ctx, src, opts)
	res.Stats.Files = append([]string(nil), paths...)
	if err != nil {
		res.Stats.Warnings = append(res.Stats.Warnings, warningLines(err)...)
	}
	return res, nil
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
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = fmt.Sprintf("%s (truncated: flows up to this point are kept)", msg)
	}
	return append(out, msg)
}
