package main

import (
	"fmt"
	"io"
	"os"

	"github.com/flowaudit/flowaudit/capture/pcapfile"
	"github.com/flowaudit/flowaudit/internal/inputfile"
	"github.com/flowaudit/flowaudit/internal/text"
)

// stdinArg is the argument that means standard input, and stdinName what
// stands for it in errors, statistics and reports.
const (
	stdinArg  = "-"
	stdinName = "stdin"
)

// checkStdin refuses "-" given more than once: standard input can be read
// only once.
func checkStdin(args []string) error {
	n := 0
	for _, a := range args {
		if a == stdinArg {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("- (standard input) is given %d times: it can be read once; give the others as files", n)
	}
	return nil
}

// captureInputs are the capture files args for pcapfile, "-" being
// standard input (read as a stream, gzip included, named "stdin").
func (a *app) captureInputs(args []string) []pcapfile.Input {
	ins := make([]pcapfile.Input, len(args))
	for i, p := range args {
		ins[i] = pcapfile.Input{Name: p}
		if p == stdinArg {
			ins[i] = pcapfile.Input{Name: stdinName, R: a.stdin}
		}
	}
	return ins
}

// inputFile is a file a command reads: path is opened, and name stands for
// it in messages ("stdin" for the copy of standard input).
type inputFile struct{ path, name string }

// spooledInputs turns args into files to open: "-" is copied from standard
// input into a temporary file first, since sessions and reports are read
// more than once (sniffed, then read; flows read again to infer hosts).
// The copy stops past max bytes with an error wrapping
// inputfile.ErrTooLarge, so --max-input-size bounds standard input as it
// bounds files. what names the kind of input in errors ("session"). Call
// the returned function to remove the copy.
func (a *app) spooledInputs(args []string, max int64, what string) ([]inputFile, func(), error) {
	out := make([]inputFile, len(args))
	cleanup := func() {}
	for i, p := range args {
		out[i] = inputFile{p, p}
		if p != stdinArg {
			continue
		}
		tmp, err := spool(a.stdin, max)
		if err != nil {
			return nil, cleanup, fmt.Errorf("%s %s: %w", what, stdinName, err)
		}
		cleanup = func() { os.Remove(tmp) }
		out[i] = inputFile{tmp, stdinName}
	}
	return out, cleanup, nil
}

// spool copies at most max bytes of r into a new temporary file and
// returns its name; more than max bytes is an error (the file is removed).
func spool(r io.Reader, max int64) (string, error) {
	f, err := os.CreateTemp("", "flowaudit-stdin-*")
	if err != nil {
		return "", fmt.Errorf("copy standard input: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("copy standard input: %w", err)
	case n > max:
		err = fmt.Errorf("%w of %s", inputfile.ErrTooLarge, text.Size(max))
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// paths and names of inputs, in order.
func inputPaths(ins []inputFile) (paths, names []string) {
	for _, in := range ins {
		paths, names = append(paths, in.path), append(names, in.name)
	}
	return paths, names
}
