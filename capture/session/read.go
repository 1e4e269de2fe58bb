package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/inputfile"
)

// Errors Load wraps, for callers that want to tell them apart.
var (
	ErrNotSession = errors.New("not a flowaudit session file")
	ErrVersion    = errors.New("unsupported session version")
	// ErrCorrupt is damage (truncated, not valid JSON) and any field whose
	// value cannot be used (see FieldError).
	ErrCorrupt = errors.New("corrupt session file")
	// ErrDuplicate is LoadAll's refusal of one capture given twice.
	ErrDuplicate = errors.New("session given twice")
)

// duplicateError is a LoadAll refusal; errors.Is(err, ErrDuplicate).
type duplicateError struct{ msg string }

func (e *duplicateError) Error() string        { return e.msg + ": each flow would count twice" }
func (e *duplicateError) Is(target error) bool { return target == ErrDuplicate }

// Load reads a session file, checking its format and version first so a
// wrong or newer file is refused with one clear line: "session FILE:
// PROBLEM", PROBLEM naming the field when one is at fault. The file must
// be a regular file of at most MaxFileSize bytes (see LoadLimit).
func Load(path string) (*Session, error) {
	return LoadLimit(path, MaxFileSize)
}

// LoadLimit is Load for a file of at most max bytes (MaxFileSize when max
// is 0). A larger file, or anything but a regular file (a directory,
// /dev/zero, a named pipe), is refused unread: ErrTooLarge, ErrNotRegular.
func LoadLimit(path string, max int64) (*Session, error) {
	s, err := load(path, max)
	if err != nil {
		// The path is already in front: keep only what went wrong.
		if pe, ok := errors.AsType[*os.PathError](err); ok {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return nil, fmt.Errorf("session %s: %w", path, err)
	}
	return s, nil
}

func load(path string, max int64) (*Session, error) {
	if max <= 0 {
		max = MaxFileSize
	}
	f, size, err := inputfile.Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return newStream(newCapped(f, max, size), f).session()
}

// Read decodes a session from r (see Load) and checks every value the
// audit relies on: an error is one line, a *FieldError naming the field
// ("flows[3].outcome") when one is at fault. It reads r as a stream: the
// memory it needs is that of the session's values, not of the file. A
// syntax error is placed by line and column when r is an io.ReadSeeker
// (it reads r again up to the error), by byte offset otherwise.
func Read(r io.Reader) (*Session, error) {
	seek, _ := r.(io.ReadSeeker)
	return newStream(newCapped(r, -1, -1), seek).session()
}

// decodeHead decodes the fields of a session other than its flows, data
// being an object of them: the format and version first, since a file
// from a newer flowaudit may not decode into this version's types and the
// version error is the useful one.
func decodeHead(data []byte) (*Session, error) {
	var head struct {
		Format  *string `json:"format"`
		Version *int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, describeAt("", data, err, reflect.TypeOf(head))
	}
	if head.Format == nil || *head.Format != Format {
		return nil, fmt.Errorf("%w (no \"format\": %q field)", ErrNotSession, Format)
	}
	if head.Version == nil {
		return nil, fmt.Errorf("%w: no version field", ErrCorrupt)
	}
	if *head.Version != Version {
		return nil, fmt.Errorf("%w %d (this flowaudit reads version %d; use the flowaudit that wrote it, or a newer one)", ErrVersion, *head.Version, Version)
	}
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, describeAt("", data, err, reflect.TypeFor[Session]())
	}
	return &s, nil
}

// describeAt turns a failed decode of raw, the value at path, into type t
// into one line: the field at fault and what is wrong with its value. raw
// is valid JSON (the stream decoder checked it), so the error is one of
// types or values.
func describeAt(path string, raw []byte, err error, t reflect.Type) error {
	if fe := locate(path, raw, t); fe != nil {
		return fe
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, oneLine(strings.TrimPrefix(err.Error(), "json: ")))
}

// LoadAll loads the sessions at paths for one merged report. It refuses,
// naming the files, what would count flows twice: one file given twice
// (the same path, or the same file under two names) and two files that
// record the same capture (see SameCapture). Two sessions of one node
// with different starts (a node captured twice) are fine. Each file must
// be a regular file of at most MaxFileSize bytes (see LoadAllLimit).
func LoadAll(paths ...string) ([]*Session, error) {
	return LoadAllLimit(MaxFileSize, paths...)
}

// LoadAllLimit is LoadAll with each file bounded to max bytes (MaxFileSize
// when max is 0), as LoadLimit.
func LoadAllLimit(max int64, paths ...string) ([]*Session, error) {
	type seen struct {
		path string
		abs  string
		fi   os.FileInfo
	}
	var files []seen
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = filepath.Clean(p)
		}
		fi, _ := os.Stat(p) // a missing file is Load's error to report
		for _, o := range files {
			switch {
			case o.abs == abs && o.path == p:
				return nil, &duplicateError{fmt.Sprintf("session %s is given twice", p)}
			case o.abs == abs || (fi != nil && o.fi != nil && os.SameFile(fi, o.fi)):
				return nil, &duplicateError{fmt.Sprintf("sessions %s and %s are the same file", o.path, p)}
			}
		}
		files = append(files, seen{p, abs, fi})
	}
	out := make([]*Session, 0, len(paths))
	for i, p := range paths {
		s, err := LoadLimit(p, max)
		if err != nil {
			return nil, err
		}
		for j, o := range out {
			if SameCapture(o, s) {
				how := "start " + s.Start.UTC().Format(time.RFC3339Nano)
				if s.Start.IsZero() {
					how = "no start, identical content"
				}
				return nil, &duplicateError{fmt.Sprintf("sessions %s and %s are the same capture (node %q, %s)",
					paths[j], paths[i], s.Node, how)}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// SameCapture reports whether a and b record the same capture run: the
// same node name and the same start time. Copies of one session, or two
// saves of one run, are the same capture. A session without a start (a
// replay of a capture without packets) cannot be told apart by it: two
// such sessions of one node are the same capture when their contents are
// identical (the same file copied), and different ones otherwise.
func SameCapture(a, b *Session) bool {
	switch {
	case a.Node != b.Node || a.Start.IsZero() != b.Start.IsZero():
		return false
	case !a.Start.IsZero():
		return a.Start.Equal(b.Start)
	}
	return sameContent(a, b)
}

// sameContent reports whether a and b encode to the same JSON, which
// compares times as instants written in their zone and not by their
// in-memory representation.
func sameContent(a, b *Session) bool {
	enc := func(s *Session) ([]byte, error) {
		c := *s
		if c.Flows == nil {
			c.Flows = []flow.Flow{} // as Save writes it
		}
		return json.Marshal(&c)
	}
	ja, errA := enc(a)
	jb, errB := enc(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
