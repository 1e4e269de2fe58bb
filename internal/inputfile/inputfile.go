// Package inputfile opens the files a user names as input (catalogs, site
// files, sessions) within bounds: regular files only, since a device
// (/dev/zero) never ends and a named pipe can block a read forever, of at
// most a given size; both checked on the path and again on the opened
// file, in case the path was replaced in between.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/flowaudit/flowaudit/internal/text"
)

// ErrTooLarge is wrapped by the error for a file larger than the limit it
// was opened with.
var ErrTooLarge = errors.New("over the size limit")

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file: a directory, a device, a named pipe or a socket.
var ErrNotRegular = errors.New("not a regular file")

// Open opens a regular file of at most max bytes and returns it with its
// size. A file system error is an *fs.PathError whose Op is "open",
// whichever call failed: it is what the user asked for.
func Open(path string, max int64) (*os.File, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			pe.Op = "open"
		}
		return nil, 0, err
	}
	if err := check(fi, max); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	if fi, err = f.Stat(); err == nil {
		err = check(fi, max)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// ReadAll reads a regular file of at most max bytes, as Open opens it. It
// never reads more than max+1 bytes, even from a file that grows while it
// is read or whose size the kernel does not know (/proc).
func ReadAll(path string, max int64) ([]byte, error) {
	f, _, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than %s: %w", text.Size(max), ErrTooLarge)
	}
	return data, nil
}

// check refuses what Open must not open.
func check(fi fs.FileInfo, max int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w (%s)", ErrNotRegular, fileKind(fi.Mode()))
	}
	if fi.Size() > max {
		return fmt.Errorf("%s, %w of %s", text.Size(fi.Size()), ErrTooLarge, text.Size(max))
	}
	return nil
}

// fileKind names what a path that is not a regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}
