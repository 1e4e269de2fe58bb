// Package atomicfile writes files that appear complete or not at all:
// written under a temporary name next to the destination, synced, and
// renamed over it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// File is a file that appears at its final path complete or not at
// all: it is written under a temporary name in the same directory, synced,
// and renamed over the destination by Commit. A crash or kill at any moment
// leaves either the old file (or none) or the new one, never half of it;
// at worst a hidden ".NAME.tmp-*" file stays behind.
//
// An existing path that is not a regular file (/dev/null, /dev/stdout, a
// named pipe) is written in place: renaming over it would replace a device
// node with a file.
//
// The file gets the permissions of the regular file it replaces (a report
// kept 0600 stays 0600), or for a new file 0666 less the umask, as any
// program's new file does.
type File struct {
	*os.File
	path   string
	done   bool
	direct bool // writing path itself, not a temporary file
}

// Create starts writing path through a temporary file next to it.
func Create(path string) (*File, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return &File{File: f, path: path, direct: true}, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// Created with the final permissions (the umask applies), never wider
	// than the file replaced: the temporary file is readable by no one
	// the result is not.
	perm := os.FileMode(0o666)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		perm = fi.Mode().Perm()
	}
	f, err := createTemp(dir, "."+base+".tmp-", perm)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{File: f, path: path}, nil
}

// createTemp is os.CreateTemp with the permissions given (os.CreateTemp
// makes every file 0600).
func createTemp(dir, prefix string, perm os.FileMode) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, prefix+"*"), Err: fs.ErrExist}
}

// Moments of a commit that a crash must survive, for testHook.
const (
	momentSynced  = "synced"  // temporary file complete and synced, not renamed yet
	momentRenamed = "renamed" // renamed into place, directory not synced yet
)

// testHook, set only by this package's tests, is called at each moment
// above, so a test can kill a writer exactly there instead of guessing
// when it gets there.
var testHook func(moment string)

// Path is the final path the file will have after Commit.
func (a *File) Path() string { return a.path }

// Commit flushes the file to stable storage, closes it and renames it to
// its final path, then syncs the directory so the rename survives a power
// loss. After a failed Commit the temporary file is removed.
func (a *File) Commit() error {
	if a.done {
		return fmt.Errorf("write %s: already committed or aborted", a.path)
	}
	a.done = true
	if a.direct {
		if err := a.File.Close(); err != nil {
			return fmt.Errorf("write %s: %w", a.path, err)
		}
		return nil
	}
	tmp := a.File.Name()
	if err := a.File.Sync(); err != nil {
		a.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: sync: %w", a.path, err)
	}
	if err := a.File.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: close: %w", a.path, err)
	}
	// The file replaced keeps its permissions, also when the umask took
	// some away from the temporary file (or it appeared meanwhile).
	if fi, err := os.Stat(a.path); err == nil && fi.Mode().IsRegular() {
		if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write %s: %w", a.path, err)
		}
	}
	if testHook != nil {
		testHook(momentSynced)
	}
	if err := os.Rename(tmp, a.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if testHook != nil {
		testHook(momentRenamed)
	}
	if d, err := os.Open(filepath.Dir(a.path)); err == nil {
		// Best effort: some filesystems refuse fsync on directories.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Abort closes and removes the temporary file; the destination is left as
// it was. It is safe to call after Commit (it then does nothing), so
// `defer f.Abort()` is the usual pattern.
func (a *File) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.File.Close()
	if !a.direct {
		os.Remove(a.File.Name())
	}
}

// WriteFile writes path atomically with the content write produces.
func WriteFile(path string, write func(f *os.File) error) error {
	a, err := Create(path)
	if err != nil {
		return err
	}
	defer a.Abort()
	if err := write(a.File); err != nil {
		// "write s.json: no space left on device", not the temporary
		// file's name (or the path) a second time.
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return a.Commit()
}
