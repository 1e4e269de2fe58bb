package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/pcapfile"
)

// readProgressEvery is how often replay and flows refresh their progress
// bar; inputs read faster than this never show one.
const readProgressEvery = 250 * time.Millisecond

// replayFiles replays capture files as `replay` and `flows` do: capture
// files (a flow table of at most maxFlows) -> capture.Replay -> sink, with
// a progress bar on a terminal, and the capture's warnings (a truncated
// file...) logged on stderr, one line each; the statistics carry them too.
// streaming says output goes to stdout while reading, and then the bar is
// drawn only when stdout is not the terminal too.
func (a *app) replayFiles(paths []string, maxFlows int, sink capture.Sink, streaming bool) (capture.Stats, error) {
	src, err := pcapfile.OpenSourceInputs(a.captureInputs(paths), flow.Config{MaxFlows: maxFlows})
	if err != nil {
		return capture.Stats{}, err
	}
	defer src.Close()
	var bar capture.Sink
	done := func() {}
	if !streaming || !isTerminal(a.stdout) {
		bar, done = a.readProgress()
	}
	// The first Ctrl-C stops reading and the partial result is still
	// written (marked interrupted); a second one aborts at once (main).
	st := capture.Replay(a.ctx, src, capture.Tee(sink, bar), capture.Options{ProgressEvery: readProgressEvery})
	done()
	a.readStopped = st.Interrupted
	for _, w := range st.Warnings {
		a.log.Warn("capture: " + w)
	}
	return st, nil
}

// readProgress shows how far `replay` and `flows` are through their input
// files: a bar of bytes read out of the files' total size, with packets
// and flows so far, on stderr when it is a terminal (never in pipes or
// logs). It returns the sink that draws it (nil when there is nothing to
// draw on) and a function to call once reading has ended, to clear the
// bar before anything else is printed.
func (a *app) readProgress() (capture.Sink, func()) {
	if !isTerminal(a.stderr) {
		return nil, func() {}
	}
	return attachReadProgress(a.stderr)
}

// attachReadProgress draws the bar on w whatever w is (tests use it
// directly).
func attachReadProgress(w io.Writer) (capture.Sink, func()) {
	var bar *progressbar.ProgressBar
	draw := func(p capture.Progress) {
		if p.InputSize <= 0 {
			return
		}
		if bar == nil {
			// Made at the first report, when the total is known; the
			// library redraws in place and keeps to the terminal width.
			bar = progressbar.NewOptions64(p.InputSize,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("reading"),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowCount(),
				progressbar.OptionShowTotalBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetWidth(24),
				progressbar.OptionShowDescriptionAtLineEnd(),
				progressbar.OptionClearOnFinish())
		}
		// Unthrottled: both draw, and this runs 4 times a second.
		bar.Describe(fmt.Sprintf("%d packets, %d flows", p.Stats.Packets, p.Stats.Flows))
		bar.Set64(p.InputRead)
	}
	return capture.SinkFuncs{OnProgress: draw}, func() {
		if bar != nil {
			bar.Finish() // clears the line (OptionClearOnFinish)
		}
	}
}

// errInterrupted is returned, after the partial output was written, when
// a signal stopped reading before the end of the input: exit status 130,
// or 143 for SIGTERM, as a shell reports a command ended by the signal.
var errInterrupted = errors.New("interrupted: the output covers only the packets read before the signal")

// interruptError is errInterrupted with the exit status of the signal
// that stopped reading (errors.Is(err, errInterrupted) holds).
type interruptError struct{ status int }

func (e *interruptError) Error() string        { return errInterrupted.Error() }
func (e *interruptError) Is(target error) bool { return target == errInterrupted }

// interrupted turns the result of writing the output into errInterrupted
// when reading was cut short; a real error wins. The signal is the cause
// main gave the context (SIGINT when none was given: a test's cancel).
func (a *app) interrupted(err error) error {
	if !a.readStopped || (err != nil && !asFindings(err, new(*findingsError))) {
		return err
	}
	if c, ok := errors.AsType[signalCause](context.Cause(a.ctx)); ok {
		return &interruptError{status: signalStatus(c.sig)}
	}
	return &interruptError{status: 130}
}
