package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// MaxFileSize is the default bound on a session file. A day of a busy
// gateway is about a million flows, and a session holds about 380 bytes
// per flow (measured: 15.1 MB for 40,003 flows of the bench capture), so
// 1 GiB holds nearly three such days. Loading costs about 450 bytes of
// memory per flow on top of the file's share (docs/session.md).
const MaxFileSize = 1 << 30

// ErrTooLarge is wrapped by the error for a session file larger than the
// limit it was loaded with.
var ErrTooLarge = errors.New("over the size limit")

// ErrNotRegular is wrapped by the error for a session path that is not a
// regular file: a directory, a device (/dev/zero never ends), a named
// pipe (a read could wait forever) or a socket.
var ErrNotRegular = errors.New("not a regular file")

// openInput opens a regular file of at most max bytes, checking again on
// the opened file in case the path was replaced in between, and returns
// its size.
func openInput(path string, max int64) (*os.File, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			pe.Op = "open" // what the user asked for, whichever call failed
		}
		return nil, 0, err
	}
	if err := checkInput(fi, max); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	if fi, err = f.Stat(); err == nil {
		err = checkInput(fi, max)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// checkInput refuses what openInput must not open.
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

// sizeText writes a byte count the way the limits are given: "1 GiB",
// "1.5 GiB", "300 bytes".
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
