package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
				return fmt.Errorf("%s %s is also an input: writing it would destroy the capture", o.flag, o.path)
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
