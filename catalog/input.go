package catalog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// MaxFileSize is the default bound on a catalog or site file: the bundled
// catalog's largest product file is under 20 KiB, so 4 MiB is two hundred
// times that, and reading it costs no more than a few times its size.
const MaxFileSize = 4 << 20

// ErrTooLarge is wrapped by the error for a catalog or site file larger
// than the limit it was read with.
var ErrTooLarge = errors.New("over the size limit")

// ErrNotRegular is wrapped by the error for a catalog or site file that is
// not a regular file: a directory, a device (/dev/zero never ends), a
// named pipe (a read could wait forever) or a socket.
var ErrNotRegular = errors.New("not a regular file")

// readInput reads a regular file of at most max bytes (MaxFileSize when
// max is 0). It never reads more than max+1 bytes, even from a file that
// grows while it is read or whose size the kernel does not know (/proc).
func readInput(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxFileSize
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkInput(fi, max); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Stat again on what was opened: the path may have been replaced.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkInput(fi, max); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than %s: %w", sizeText(max), ErrTooLarge)
	}
	return data, nil
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

// checkInput refuses what readInput must not read.
func checkInput(fi fs.FileInfo, max int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w (%s)", ErrNotRegular, fileKind(fi.Mode()))
	}
	if fi.Size() > max {
		return fmt.Errorf("%s, %w of %s", sizeText(fi.Size()), ErrTooLarge, sizeText(max))
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

// sizeText writes a byte count the way the limits are given: "4 MiB",
// "5.2 MiB", "300 bytes".
func sizeText(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		switch {
		case n >= u.size && n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		case n >= u.size:
			// "4.0 MiB" for 4 MiB and a byte would read as the limit.
			if t := fmt.Sprintf("%.1f", float64(n)/float64(u.size)); !strings.HasSuffix(t, ".0") {
				return t + " " + u.name
			}
			return fmt.Sprintf("%d bytes", n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
