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
	ctx, cancel := context.WithCancel(context.Background())
	go onSignals(cancel)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// onSignals turns the first SIGINT or SIGTERM into an orderly stop (ctx is
// cancelled: a capture finishes its flows, a replay stops reading, and what
// was gathered is written) and a second one into an immediate exit with
// 128+signal, whatever the command is doing (reading a stalled pipe,
// writing to a blocked stdout). Files are written under temporary names
// and renamed, so the abort leaves nothing half-written under a final name.
func onSignals(cancel context.CancelFunc) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
	cancel()
	sig := <-ch
	fmt.Fprintf(os.Stderr, "\nflowaudit: %v again: aborting without writing anything more\n", sig)
	code := 130
	if sig == syscall.SIGTERM {
		code = 143
	}
	os.Exit(code)
}

// exitCode prints err as one line, escaped for the terminal (a file name
// or a catalog key may hold anything), and maps it to the exit status:
// 0 success, 1 findings, 2 usage or input errors, 130 interrupted (the
// partial output was written).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var f *findingsError
	if asFindings(err, &f) {
		return 1
	}
	if errors.Is(err, errInterrupted) {
		fmt.Fprintf(stderr, "flowaudit: %s\n", escape.Terminal(err.Error()))
		return 130
	}
	fmt.Fprintf(stderr, "flowaudit: %s\n", escape.Terminal(err.Error()))
	return 2
}
