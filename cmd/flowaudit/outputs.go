package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// output is one file a command will write, named by its flag for errors.
type output struct{ flag, path string }

// checkOutputs is run before any capture is read or opened: a report,
// session or pcapng that cannot be written should be known in a second,
// not after an hour of capture. It rejects an output that is a directory,
// lies in a directory that is missing or not writable, is one of the
// inputs (the report would replace the capture), or is the same file as
// another output. Outputs that are "" or "-" (stdout) are skipped.
func checkOutputs(inputs []string, outs ...output) error {
	seen := map[string]string{}
	for _, o := range outs {
		if o.path == "" || o.path == "-" {
			continue
		}
		abs, err := filepath.Abs(o.path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.flag, o.path, err)
		}
		if other, ok := seen[abs]; ok {
			return fmt.Errorf("%s and %s name the same file %s: give each its own", other, o.flag, o.path)
		}
		seen[abs] = o.flag
		if err := checkOutput(inputs, o); err != nil {
			return err
		}
	}
	return nil
}

func checkOutput(inputs []string, o output) error {
	fi, statErr := os.Stat(o.path)
	switch err := statErr; {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s %s is a directory: give a file name", o.flag, o.path)
	case err == nil:
		for _, in := range inputs {
			if ii, err := os.Stat(in); err == nil && os.SameFile(fi, ii) {
				return fmt.Errorf("%s %s is also an input (%s): writing it would destroy it", o.flag, o.path, in)
			}
		}
		if !fi.Mode().IsRegular() {
			return nil // a device or pipe (/dev/null, /dev/stdout) is written in place
		}
	}
	dir := filepath.Dir(o.path)
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %s: directory %s: %w", o.flag, o.path, dir, unwrapPath(err))
	}
	if !di.IsDir() {
		return fmt.Errorf("%s %s: %s is not a directory", o.flag, o.path, dir)
	}
	// The file is written under a temporary name in its directory, then
	// renamed: try exactly that.
	f, err := os.CreateTemp(dir, ".flowaudit-check-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot write in %s: %w", o.flag, o.path, dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", o.flag, o.path, unwrapPath(statErr))
	}
	return nil
}

// unwrapPath drops the *fs.PathError wrapper, whose path the caller's
// message already names in a friendlier form.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkInputs refuses a capture given twice (the same file under two
// names, or a hard or symbolic link to it): its packets would be counted
// twice and every flow would look retransmitted.
func checkInputs(paths []string) error {
	if err := checkStdin(paths); err != nil {
		return err
	}
	infos := make([]os.FileInfo, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || p == stdinArg {
			continue // the reader names the file and the problem
		}
		for j := range i {
			if infos[j] != nil && os.SameFile(fi, infos[j]) {
				return fmt.Errorf("capture %s is given twice (also as %s): each file is read once", p, paths[j])
			}
		}
		infos[i] = fi
	}
	return nil
}

// inputFiles are the files besides the captures or sessions that a
// command reads: an output must not replace them.
func (f *auditFlags) inputFiles() []string {
	in := slices.Clone(f.catalogs)
	if f.site != "" {
		in = append(in, f.site)
	}
	return in
}

// checkSessionArgs is what report and diff check of their file
// arguments (sessions or reports) before reading any: --output replaces
// none of them, it and --format agree, and at most one is stdin.
func (f *auditFlags) checkSessionArgs(args []string) error {
	if err := checkOutputs(append(f.inputFiles(), args...), output{"--output", f.output}); err != nil {
		return err
	}
	if err := f.resolveFormat(); err != nil {
		return err
	}
	return checkStdin(args)
}

// nodeFromCapture is replay's default --node: the first capture's name
// without directory and extensions ("gw1" for /data/gw1.pcapng.gz), so
// that sessions of several gateways replayed on one analyst's machine do
// not all carry that machine's name.
func nodeFromCapture(path string) string {
	if path == stdinArg {
		return stdinName
	}
	base := filepath.Base(path)
	for {
		ext := filepath.Ext(base)
		if ext == "" || ext == base {
			return base
		}
		base = strings.TrimSuffix(base, ext)
	}
}

// checkNode refuses a node name a report could not print on one line.
func checkNode(name string) error {
	if strings.TrimSpace(name) == "" && name != "" {
		return fmt.Errorf("--node %q: give a name", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("--node %q: control characters are not allowed in a node name", name)
		}
	}
	return nil
}

// fileError is a catalog or site file's error list shortened to one line
// for commands that only use the file (catalog validate prints them all).
type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// firstProblem keeps the first problem of a multi-line catalog or site error,
// counts the others, and says when the file is evidently of the other
// kind (a catalog given as --site, or a site file as --catalog).
func firstProblem(err error, path string, site bool) error {
	if err == nil {
		return nil
	}
	lines := problemLines(err)
	msg := lines[0]
	validate := "flowaudit catalog validate " + path
	if site {
		validate = "flowaudit catalog validate --site " + path
	}
	if len(lines) > 1 {
		msg += fmt.Sprintf(" (and %d more; %s lists them all)", len(lines)-1, validate)
	}
	other := map[bool][]string{true: {": product: unknown key", ": rows: unknown key"}, false: {": hosts: unknown key", ": zones: unknown key"}}[site]
	for _, l := range lines {
		for _, o := range other {
			if strings.Contains(l, o) {
				if site {
					return &fileError{msg + ": this looks like a catalog file: give it with --catalog", err}
				}
				return &fileError{msg + ": this looks like a site file: give it with --site", err}
			}
		}
	}
	if len(lines) == 1 {
		return err
	}
	return &fileError{msg, err}
}
