package session

import (
	"bufio"
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
// PROBLEM", PROBLEM naming the field when one is at fault.
func Load(path string) (*Session, error) {
	f, err := os.Open(path)
	if err != nil {
		// The path is already in front: keep only what went wrong.
		if pe, ok := errors.AsType[*os.PathError](err); ok {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return nil, fmt.Errorf("session %s: %w", path, err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", path, err)
	}
	return s, nil
}

// Read decodes a session from r (see Load) and checks every value the
// audit relies on: an error is one line, a *FieldError naming the field
// ("flows[3].outcome") when one is at fault.
func Read(r io.Reader) (*Session, error) {
	data, err := io.ReadAll(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, err
	}
	if err := checkObject(data); err != nil {
		return nil, err
	}
	// The header first: a file from a newer flowaudit may not decode into
	// this version's types, and the version error is the useful one.
	var head struct {
		Format  *string `json:"format"`
		Version *int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, describe(data, err, reflect.TypeOf(head))
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
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// wireSession is Session as read: its Flows shadows the embedded field
// and stays nil when the file has no "flows" (or "flows": null), which
// must be refused rather than read as a capture without flows.
type wireSession struct {
	Session
	Flows *[]flow.Flow `json:"flows"`
}

// decode decodes a session whose header was checked. Errors are
// FieldErrors where a field is at fault.
func decode(data []byte) (*Session, error) {
	var w wireSession
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, describe(data, err, reflect.TypeFor[Session]())
	}
	if w.Flows == nil {
		if raw := rawFlows(data); raw != nil {
			return nil, &FieldError{"flows", "want an array, got " + got(raw)}
		}
		return nil, &FieldError{"flows", "missing (want an array of flows, [] when the capture saw none)"}
	}
	s := &w.Session
	s.Flows = *w.Flows
	// A null flow decodes as a flow with every field empty. Only the first
	// such flow needs the raw array, to tell null from {}: validate
	// refuses an empty flow anyway (no outcome), so the slow path runs at
	// most once and never for a usable file.
	for i := range s.Flows {
		if s.Flows[i].Outcome != "" || !reflect.ValueOf(&s.Flows[i]).Elem().IsZero() {
			continue
		}
		var elems []json.RawMessage
		if json.Unmarshal(rawFlows(data), &elems) == nil && i < len(elems) && string(bytes.TrimSpace(elems[i])) == "null" {
			return nil, &FieldError{fmt.Sprintf("flows[%d]", i), "want an object, got null"}
		}
		break
	}
	return s, nil
}

// rawFlows returns the value of data's "flows" key, nil when there is
// none.
func rawFlows(data []byte) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil
	}
	v, _ := lookupFold(obj, "flows")
	return v
}

// checkObject refuses what cannot be a session before decoding: nothing
// at all, or anything but a JSON object (a capture file given by
// mistake, a JSON array).
func checkObject(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return fmt.Errorf("%w: empty file", ErrCorrupt)
	case trimmed[0] == '{':
		return nil
	case json.Valid(trimmed):
		return fmt.Errorf("%w (JSON %s, not an object)", ErrNotSession, jsonKind(trimmed))
	}
	return fmt.Errorf("%w (not JSON)", ErrNotSession)
}

// describe turns a failed decode of data into type t into one line: the
// field at fault and what is wrong with its value, or where the syntax
// breaks.
func describe(data []byte, err error, t reflect.Type) error {
	if _, ok := errors.AsType[*json.SyntaxError](err); !ok {
		if fe := locate("", data, t); fe != nil {
			return fe
		}
	}
	return describeJSONErr(data, err)
}

// describeJSONErr names a syntax error (or anything locate could not
// place) and where it is.
func describeJSONErr(data []byte, err error) error {
	syn, isSyn := errors.AsType[*json.SyntaxError](err)
	switch {
	case isSyn && strings.Contains(syn.Error(), "unexpected end"):
		return fmt.Errorf("%w: truncated after %d bytes", ErrCorrupt, len(data))
	case isSyn:
		line, col := position(data, syn.Offset)
		return fmt.Errorf("%w: line %d column %d: %v", ErrCorrupt, line, col, oneLine(syn.Error()))
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, oneLine(strings.TrimPrefix(err.Error(), "json: ")))
}

func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col = 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// LoadAll loads the sessions at paths for one merged report. It refuses,
// naming the files, what would count flows twice: one file given twice
// (the same path, or the same file under two names) and two files that
// record the same capture (see SameCapture). Two sessions of one node
// with different starts (a node captured twice) are fine.
func LoadAll(paths ...string) ([]*Session, error) {
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
		s, err := Load(p)
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
