// Command flowaudit audits the network requirements of mail-security
// gateways from passively captured traffic. main only wires signals and
// streams; the work happens in run, which tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/flowaudit/flowaudit/internal/escape"
)

func main() {
	setMemoryLimit = func(n int64) {
		if os.Getenv("GOMEMLIMIT") == "" { // the user's own limit wins
			debug.SetMemoryLimit(n)
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	go onSignals(cancel)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// signalCause is why ctx was cancelled when a signal stopped the command
// (context.Cause): the exit status of an interrupted read depends on it.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "stopped by " + c.sig.String() }

// onSignals turns the first SIGINT or SIGTERM into an orderly stop (ctx is
// cancelled: a capture finishes its flows, a replay stops reading, and what
// was gathered is written) and a second one into an immediate exit with
// 128+signal, whatever the command is doing (reading a stalled pipe,
// writing to a blocked stdout). Files are written under temporary names
// and renamed, so the abort leaves nothing half-written under a final name.
func onSignals(cancel context.CancelCauseFunc) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	cancel(signalCause{<-ch})
	sig := <-ch
	fmt.Fprintf(os.Stderr, "\nflowaudit: %v again: aborting without writing anything more\n", sig)
	os.Exit(signalStatus(sig))
}

// signalStatus is the exit status a shell reports for a command a signal
// ended: 130 for SIGINT (Ctrl-C), 143 for SIGTERM.
func signalStatus(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return 143
	}
	return 130
}

// exitCode prints err as one line, escaped for the terminal (a file name
// or a catalog key may hold anything), and maps it to the exit status:
// 0 success, 1 findings, 2 usage or input errors, 130 (SIGINT) or 143
// (SIGTERM) interrupted (the partial output was written).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var f *findingsError
	if asFindings(err, &f) {
		return 1
	}
	fmt.Fprintf(stderr, "flowaudit: %s\n", escape.Terminal(err.Error()))
	if ie, ok := errors.AsType[*interruptError](err); ok {
		return ie.status
	}
	if errors.Is(err, errInterrupted) {
		return 130
	}
	return 2
}
