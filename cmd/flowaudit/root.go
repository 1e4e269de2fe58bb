package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// findingsError means the audit ran and found what --fail-on asks about:
// exit status 1, and nothing more to print.
type findingsError struct{ n int }

func (e *findingsError) Error() string { return "findings" }

func asFindings(err error, target **findingsError) bool { return errors.As(err, target) }

// app carries what every subcommand shares.
type app struct {
	ctx    context.Context
	stdin  io.Reader // what "-" reads (captures, sessions, reports)
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// readStopped is set when a signal stopped reading capture files
	// before their end (the output is partial).
	readStopped bool
	// maxInput is --max-input-size: the bound on catalog, site and
	// session files (0: each kind's default).
	maxInput sizeFlag
}

// run parses args and runs one subcommand. It is main without the process:
// tests call it with their own context and buffers. "-" reads os.Stdin.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runStdin(ctx, args, os.Stdin, stdout, stderr)
}

// runStdin is run with the standard input "-" reads: tests give it bytes.
func runStdin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr,
		log: slog.New(newLineHandler(stderr, slog.LevelWarn))}
	root := newRootCmd(a)
	root.SetArgs(args)
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		// The shell asks for candidates (completion.go). Only then: cobra
		// keeps flag completions in a process-wide map.
		registerCompletions(root, a)
	}
	return root.ExecuteContext(ctx)
}

// newRootCmd builds the command tree: run executes it, and the tests
// walk it (every example, every man page).
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "flowaudit",
		Short:         "Audit a mail gateway's required network flows from captured traffic",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	for _, add := range subcommands {
		root.AddCommand(add(a))
	}
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return fmt.Errorf("help: no command %q (flowaudit --help lists them)", strings.Join(args, " "))
			}
			return cmd.Help()
		},
	})
	root.SetFlagErrorFunc(flagError)
	addCompletionCmd(root)
	return root
}

// subcommands lists the constructors of flowaudit's subcommands; each lives
// in its own file and appends itself here from an init function.
var subcommands []func(*app) *cobra.Command

// flagValueErr matches pflag's message for a value that does not parse.
var flagValueErr = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-., )?(--[^"]+)" flag: (.*)$`)

// flagError rewrites pflag's "invalid argument "abc" for "--max-flows"
// flag: strconv.ParseInt: parsing "abc": invalid syntax" as
// `--max-flows "abc": not a whole number`.
func flagError(_ *cobra.Command, err error) error {
	m := flagValueErr.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	why := m[3]
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		why = "out of range"
	case errors.As(err, &ne):
		why = "not a whole number"
	case strings.HasPrefix(why, "time: "):
		why = "not a duration (e.g. 90s, 30m, 2h)"
	}
	return fmt.Errorf("%s %q: %s", m[2], m[1], why)
}
