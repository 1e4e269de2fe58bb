package pcapfile

import (
	"context"

	"github.com/flowaudit/flowaudit/capture"
)

// ReadFiles replays capture files (pcap, pcapng, gzip of either) merged in
// time order. A file that cannot be opened or is not a capture is an error
// naming it; a damaged or truncated file is not: the flows read so far are
// returned and Stats.Warnings says what happened, one line per file.
//
// When ctx is cancelled before the input has been read to its end, the
// flows read so far are returned with Stats.Interrupted set and a warning
// saying after how many packets.
func ReadFiles(ctx context.Context, paths []string, opts capture.Options) (*capture.Result, error) {
	src, err := OpenMerged(paths)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	res := capture.Replay(ctx, src, opts)
	res.Stats.Files = append([]string(nil), paths...)
	return res, nil
}
