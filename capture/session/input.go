package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/flowaudit/flowaudit/internal/inputfile"
)

// MaxFileSize is the default bound on a session file. A day of a busy
// gateway is about a million flows, and a session holds about 380 bytes
// per flow (measured: 15.1 MB for 40,003 flows of the bench capture), so
// 1 GiB holds nearly three such days. Loading costs about 450 bytes of
// memory per flow on top of the file's share (docs/session.md).
const MaxFileSize = 1 << 30

// ErrTooLarge is wrapped by the error for a session file larger than the
// limit it was loaded with.
var ErrTooLarge = inputfile.ErrTooLarge

// ErrNotRegular is wrapped by the error for a session path that is not a
// regular file: a directory, a device (/dev/zero never ends), a named
// pipe (a read could wait forever) or a socket.
var ErrNotRegular = inputfile.ErrNotRegular

// duplicateError is an OpenAll refusal; errors.Is(err, ErrDuplicate).
type duplicateError struct{ msg string }

func (e *duplicateError) Error() string        { return e.msg + ": each flow would count twice" }
func (e *duplicateError) Is(target error) bool { return target == ErrDuplicate }

// OpenAll opens the sessions at paths for one merged report, each of at
// most max bytes (see Open). It refuses, naming the files, what would
// count flows twice: one file given twice (the same path, or the same
// file under two names) and two files that record the same capture (see
// SameCapture). Two sessions of one node with different starts (a node
// captured twice) are fine. Close the Readers when done.
func OpenAll(max int64, paths ...string) ([]*Reader, error) {
	return OpenAllNamed(max, paths, nil)
}

// OpenAllNamed is OpenAll where names[i], when given and not empty, stands
// for paths[i] in errors and Reader.Path: a copy of standard input read
// from a temporary file is named "stdin", not by its temporary name.
func OpenAllNamed(max int64, paths, names []string) ([]*Reader, error) {
	shown := slices.Clone(paths)
	for i, n := range names {
		if i < len(shown) && n != "" {
			shown[i] = n
		}
	}
	if err := distinctFiles(paths, shown); err != nil {
		return nil, err
	}
	out := make([]*Reader, 0, len(paths))
	fail := func(err error) ([]*Reader, error) {
		for _, r := range out {
			r.Close()
		}
		return nil, err
	}
	for i, p := range paths {
		r, err := open(p, max)
		if err != nil {
			return fail(pathError(shown[i], err))
		}
		r.path = shown[i]
		out = append(out, r)
		for j, o := range out[:i] {
			same, err := SameCapture(o, r)
			if err != nil {
				return fail(err)
			}
			if same {
				info := r.Info()
				how := "start " + info.Start.UTC().Format(time.RFC3339Nano)
				if info.Start.IsZero() {
					how = "no start, identical content"
				}
				return fail(&duplicateError{fmt.Sprintf("sessions %s and %s are the same capture (node %q, %s)",
					shown[j], shown[i], info.Node, how)})
			}
		}
	}
	return out, nil
}

// distinctFiles refuses a path given twice, or two names of one file;
// shown names them in the errors.
func distinctFiles(paths, shown []string) error {
	type seen struct {
		path  string
		shown string
		abs   string
		fi    os.FileInfo
	}
	var files []seen
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = filepath.Clean(p)
		}
		fi, _ := os.Stat(p) // a missing file is Open's error to report
		for _, o := range files {
			switch {
			case o.abs == abs && o.path == p:
				return &duplicateError{fmt.Sprintf("session %s is given twice", shown[i])}
			case o.abs == abs || (fi != nil && o.fi != nil && os.SameFile(fi, o.fi)):
				return &duplicateError{fmt.Sprintf("sessions %s and %s are the same file", o.shown, shown[i])}
			}
		}
		files = append(files, seen{p, shown[i], abs, fi})
	}
	return nil
}

// SameCapture reports whether a and b record the same capture run: the
// same node name and the same start time. Copies of one session, or two
// saves of one run, are the same capture. A session without a start (a
// replay of a capture without packets) cannot be told apart by it: two
// such sessions of one node are the same capture when their contents are
// identical (the same file copied), and different ones otherwise; their
// flows are then read (an error reading them is returned).
func SameCapture(a, b Source) (bool, error) {
	ia, ib := a.Info(), b.Info()
	switch {
	case ia.Node != ib.Node || ia.Start.IsZero() != ib.Start.IsZero():
		return false, nil
	case !ia.Start.IsZero():
		return ia.Start.Equal(ib.Start), nil
	}
	return sameContent(a, b)
}

// sameContent reports whether a and b hold the same values, compared as
// they are written (times as instants, in UTC).
func sameContent(a, b Source) (bool, error) {
	if !equalJSON(infoWire(a.Info()), infoWire(b.Info())) {
		return false, nil
	}
	next, stop := iter.Pull(b.Flows())
	defer stop()
	same := true
	var wa, wb wireFlow
	for fa := range a.Flows() {
		fb, ok := next()
		if !ok {
			same = false
			break
		}
		flowToWire(fa, &wa)
		flowToWire(fb, &wb)
		if !equalJSON(&wa, &wb) {
			same = false
			break
		}
	}
	if same {
		if _, more := next(); more {
			same = false
		}
	}
	stop()
	if err := errors.Join(a.Err(), b.Err()); err != nil {
		return false, err
	}
	return same, nil
}

// infoWire is info as a file writes it.
func infoWire(info *Info) any {
	return struct {
		H wireHeader
		T wireTrailer
	}{wireHeader{ToolVersion: info.ToolVersion, Node: info.Node, Iface: info.Iface, Backend: info.Backend,
		Start: utc(info.Start), Context: contextToWire(info.Context)},
		wireTrailer{End: utc(info.End), Hosts: hostsToWire(&info.Hosts), Stats: statsToWire(&info.Stats)}}
}

// equalJSON reports whether a and b encode to the same JSON.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
