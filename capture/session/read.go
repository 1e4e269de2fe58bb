package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"reflect"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/inputfile"
)

// Errors the readers wrap, for callers that want to tell them apart.
var (
	ErrNotSession = errors.New("not a flowaudit session file")
	ErrVersion    = errors.New("unsupported session version")
	// ErrCorrupt is damage (truncated, not valid JSON) and any field whose
	// value cannot be used (see FieldError).
	ErrCorrupt = errors.New("corrupt session file")
	// ErrDuplicate is OpenAll's refusal of one capture given twice.
	ErrDuplicate = errors.New("session given twice")
)

// Reader reads a session file as a stream. Open reads everything but the
// flows, wherever it is in the file (a Writer puts the trailer after
// them); Flows then decodes the flows one at a time, as often as it is
// called. Memory does not depend on the number of flows. Not safe for
// concurrent use.
type Reader struct {
	path              string
	file              *os.File
	info              Info
	flowsAt, flowsEnd int64
	err               error
}

// Open opens the session file at path, of at most max bytes (MaxFileSize
// when max is 0): a larger file, or anything but a regular file (a
// directory, /dev/zero, a named pipe), is refused unread (ErrTooLarge,
// ErrNotRegular). It reads the file once to check its format and version
// first, then its other fields and the syntax of the whole file, and
// refuses a file it cannot use with one line, "session FILE: PROBLEM",
// PROBLEM naming the field when one is at fault (FieldError). The flows'
// values are checked as Flows decodes them. Close the Reader when done.
func Open(path string, max int64) (*Reader, error) {
	r, err := open(path, max)
	if err != nil {
		return nil, pathError(path, err)
	}
	return r, nil
}

func open(path string, max int64) (*Reader, error) {
	if max <= 0 {
		max = MaxFileSize
	}
	f, size, err := inputfile.Open(path, max)
	if err != nil {
		return nil, err
	}
	sc, err := newStream(newCapped(f, max, size), f).object(false)
	if err == nil {
		var info *Info
		if info, err = sc.info(); err == nil && sc.badFlows != nil {
			err = sc.badFlows
		}
		if err == nil {
			return &Reader{path: path, file: f, info: *info, flowsAt: sc.flowsAt, flowsEnd: sc.flowsEnd}, nil
		}
	}
	f.Close()
	return nil, err
}

// pathError says "session PATH: PROBLEM" once.
func pathError(path string, err error) error {
	// The path is already in front: keep only what went wrong.
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return fmt.Errorf("session %s: %w", path, err)
}

// Path is the file the Reader reads.
func (r *Reader) Path() string { return r.path }

// Info is the session without its flows.
func (r *Reader) Info() *Info { return &r.info }

// Flows iterates over the session's flows in file order (the order they
// were recorded in), decoding and checking one at a time. Each is valid
// until the next (the *flow.Flow and what it points to are reused). A flow
// that cannot be read or used ends the iteration: Err says why, as Open
// does ("session FILE: flows[3].outcome: ..."). Flows may be called again
// to read them again.
func (r *Reader) Flows() iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		r.err = nil
		if err := r.flows(yield); err != nil {
			r.err = pathError(r.path, err)
		}
	}
}

func (r *Reader) flows(yield func(*flow.Flow) bool) error {
	sec := io.NewSectionReader(r.file, r.flowsAt, r.flowsEnd-r.flowsAt)
	d := newStream(newCapped(sec, -1, -1), nil)
	d.seek, d.skew = r.file, r.flowsAt
	if _, err := d.dec.Token(); err != nil { // the "[" Open found
		return d.syntax(err)
	}
	var fd flowDecoder
	var raw json.RawMessage
	for i := 0; d.dec.More(); i++ {
		if err := d.dec.Decode(&raw); err != nil {
			return d.syntax(err)
		}
		if err := fd.decode(i, raw); err != nil {
			return err
		}
		if !yield(&fd.f) {
			return nil
		}
	}
	return nil
}

// Err is the error that ended the last iteration of Flows early, nil
// when it read every flow (or its caller stopped).
func (r *Reader) Err() error { return r.err }

// Close closes the file.
func (r *Reader) Close() error { return r.file.Close() }

// Read decodes a whole session from r into memory (see Open for the
// checks): an error is one line, a *FieldError naming the field
// ("flows[3].outcome") when one is at fault. It reads r as a stream: the
// memory it needs is that of the session's values, not of the file. A
// syntax error is placed by line and column when r is an io.ReadSeeker
// (it reads r again up to the error), by byte offset otherwise.
func Read(r io.Reader) (*Session, error) {
	seek, _ := r.(io.ReadSeeker)
	return newStream(newCapped(r, -1, -1), seek).session()
}

// decodeInfo decodes the fields of a session other than its flows, data
// being an object of them: the format and version first, since a file
// from a newer flowaudit may not decode into this version's types and the
// version error is the useful one.
func decodeInfo(data []byte) (*Info, error) {
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
	if *head.Version != 1 && *head.Version != Version {
		return nil, fmt.Errorf("%w %d (this flowaudit reads versions 1 and %d; use the flowaudit that wrote it, or a newer one)",
			ErrVersion, *head.Version, Version)
	}
	var h wireHeader
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, describeAt("", data, err, reflect.TypeFor[wireHeader]())
	}
	info := &Info{Version: h.Version, Header: Header{ToolVersion: h.ToolVersion, Node: h.Node, Iface: h.Iface,
		Backend: h.Backend, Start: utc(h.Start)}}
	if h.Version == 1 {
		var t wireTrailerV1
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, describeAt("", data, err, reflect.TypeFor[wireTrailerV1]())
		}
		info.Trailer = t.toTrailer()
	} else {
		var t wireTrailer
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, describeAt("", data, err, reflect.TypeFor[wireTrailer]())
		}
		if fe := checkV2(&h, &t); fe != nil {
			return nil, fe
		}
		info.Context = h.Context.toContext()
		info.Trailer = Trailer{End: utc(t.End), Hosts: t.Hosts.toHosts(), Stats: t.Stats.toStats()}
	}
	field := map[bool]string{true: "hosts", false: "hosts.addrs"}[info.Version == 1]
	if fe := checkHosts(&info.Hosts, field); fe != nil {
		return nil, fe
	}
	return info, nil
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

// SHA256 is the hex SHA-256 of data, as FileRecord and SiteRecord hold it.
func SHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
