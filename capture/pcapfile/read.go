// Package pcapfile reads capture files: pcap (µs or ns timestamps, either
// byte order), pcapng and gzip of either, within bounds (docs/limits.md),
// as capture.FrameReaders (Open, OpenMerged: several files merged in time
// order), and as one capture.Source of flows (OpenSource: the frames
// through capture's packet path). ReadFiles keeps every flow for those that
// need them all.
package pcapfile

import (
	"context"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Source is capture files as a capture.Source: their frames merged in time
// order (OpenMerged) through the packet path (capture.Packets). Close it
// when done.
type Source struct {
	r     capture.FrameReader
	flows capture.Source
	paths []string
}

var _ capture.Source = (*Source)(nil)

// OpenSource opens capture files (pcap, pcapng, gzip of either) as one
// Source of flows, tracked in a table configured by table. A file that
// cannot be opened or is not a capture is an error naming it.
func OpenSource(paths []string, table flow.Config) (*Source, error) {
	ins := make([]Input, len(paths))
	for i, p := range paths {
		ins[i] = Input{Name: p}
	}
	return OpenSourceInputs(ins, table)
}

// OpenSourceInputs is OpenSource for files and streams (Input): the
// statistics name each by its Name.
func OpenSourceInputs(ins []Input, table flow.Config) (*Source, error) {
	r, err := OpenInputs(ins)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ins))
	for i, in := range ins {
		names[i] = in.Name
	}
	return &Source{r: r, flows: capture.Packets(r, capture.PacketOptions{Table: table}), paths: names}, nil
}

// Run implements capture.Source: the statistics name the files
// (Stats.Files). A damaged or truncated file ends the run with an error
// (capture.Replay makes it a warning); a cancelled ctx sets
// Stats.Interrupted unless the input was read to its end.
func (s *Source) Run(ctx context.Context, e *capture.Emitter) (capture.Stats, error) {
	st, err := s.flows.Run(ctx, e)
	st.Files = s.paths
	return st, err
}

// Close closes the files.
func (s *Source) Close() error { return s.r.Close() }

// ReadFiles replays capture files (pcap, pcapng, gzip of either) merged in
// time order, with the flow table's defaults, and returns every flow: for
// tests and consumers that need all flows at once (streaming consumers run
// OpenSource through capture.Replay with their own Sink). A file that
// cannot be opened or is not a capture is an error naming it; a damaged or
// truncated file is not: the flows read so far are returned and
// Stats.Warnings says what happened, one line per file.
//
// When ctx is cancelled before the input has been read to its end, the
// flows read so far are returned with Stats.Interrupted set and a warning
// saying after how many packets.
func ReadFiles(ctx context.Context, paths []string, opts capture.Options) (*capture.Result, error) {
	src, err := OpenSource(paths, flow.Config{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var c capture.Collector
	st := capture.Replay(ctx, src, &c, opts)
	return c.Result(st), nil
}
