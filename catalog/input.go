package catalog

import (
	"errors"
	"io/fs"

	"github.com/flowaudit/flowaudit/internal/inputfile"
)

// MaxFileSize is the default bound on a catalog or site file: the bundled
// catalog's largest product file is under 20 KiB, so 4 MiB is two hundred
// times that, and reading it costs no more than a few times its size.
const MaxFileSize = 4 << 20

// ErrTooLarge is wrapped by the error for a catalog or site file larger
// than the limit it was read with.
var ErrTooLarge = inputfile.ErrTooLarge

// ErrNotRegular is wrapped by the error for a catalog or site file that is
// not a regular file: a directory, a device (/dev/zero never ends), a
// named pipe (a read could wait forever) or a socket.
var ErrNotRegular = inputfile.ErrNotRegular

// readInput reads a regular file of at most max bytes (MaxFileSize when
// max is 0). It never reads more than max+1 bytes, even from a file that
// grows while it is read or whose size the kernel does not know (/proc).
func readInput(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxFileSize
	}
	return inputfile.ReadAll(path, max)
}

// unwrapPath drops an *fs.PathError's operation and path: the caller's
// message names the file already ("load site x.yaml: no such file or
// directory").
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}
