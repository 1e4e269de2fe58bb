package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// findingsError means the audit ran and found what --fail-on asks about:
// exit status 1, and nothing more to print.
type findingsError struct{ n int }

func (e *findingsError) Error() string { return "findings" }

func asFindings(err error, target **findingsError) bool { return errors.As(err, target) }

// app carries what every subcommand shares.
type app struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// run parses args and runs one subcommand. It is main without the process:
// tests call it with their own context and buffers.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	root := &cobra.Command{
		Use:           "flowaudit",
		Short:         "Audit a mail gateway's required network flows from captured traffic",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	for _, add := range subcommands {
		root.AddCommand(add(a))
	}
	return root.ExecuteContext(ctx)
}

// subcommands lists the constructors of flowaudit's subcommands; each lives
// in its own file and appends itself here from an init function.
var subcommands []func(*app) *cobra.Command
