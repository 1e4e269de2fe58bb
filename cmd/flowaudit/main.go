// Command flowaudit audits the network requirements of mail-security
// gateways from passively captured traffic. main only wires signals and
// streams; the work happens in run, which tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err as one line and maps it to the exit status:
// 0 success, 1 findings, 2 usage or input errors, 130 interrupted (the
// partial output was written).
func exitCode(err error, stderr *os.File) int {
	if err == nil {
		return 0
	}
	var f *findingsError
	if asFindings(err, &f) {
		return 1
	}
	if errors.Is(err, errInterrupted) {
		fmt.Fprintf(stderr, "flowaudit: %v\n", err)
		return 130
	}
	fmt.Fprintf(stderr, "flowaudit: %v\n", err)
	return 2
}
