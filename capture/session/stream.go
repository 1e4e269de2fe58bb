package session

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/text"
)

// stream decodes a session file token by token: the flows one at a time,
// so reading holds the session's values and never the file. The other
// known fields are small; they are gathered and decoded once the object
// has been read, header first, so that the version error wins over any
// other whatever the order of the keys.
type stream struct {
	dec  *json.Decoder
	in   *capped
	seek io.ReadSeeker // the same data, to place a syntax error; may be nil
	base int64         // offset of the data in seek
}

// flowType is the type every element of "flows" decodes into.
var flowType = reflect.TypeFor[flow.Flow]()

// sessionKeys are the JSON names of Session's fields other than flows;
// values of other keys are skipped unread (readers ignore unknown fields).
var sessionKeys = func() []string {
	var keys []string
	t := reflect.TypeFor[Session]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "flows" {
			keys = append(keys, name)
		}
	}
	return keys
}()

// session reads the whole object and checks it as Read documents.
func (d *stream) session() (*Session, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	head := map[string]json.RawMessage{}
	var flows []flow.Flow
	var badFlows error // a flow's field error, reported after the header's
	sawFlows := false
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return nil, d.syntax(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "flows"):
			sawFlows = true
			if flows, badFlows, err = d.flows(d.sizeHint(head)); err != nil {
				return nil, err
			}
		case known(key):
			var raw json.RawMessage
			if err := d.dec.Decode(&raw); err != nil {
				return nil, d.syntax(err)
			}
			head[key] = raw
		default:
			if err := d.skip(); err != nil {
				return nil, d.syntax(err)
			}
		}
	}
	if err := d.close(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	s, err := decodeHead(data)
	if err == nil {
		err = s.checkHosts()
	}
	switch {
	case err != nil:
		return nil, err
	case !sawFlows:
		return nil, &FieldError{"flows", "missing (want an array of flows, [] when the capture saw none)"}
	case badFlows != nil:
		return nil, badFlows
	}
	s.Flows = flows
	return s, nil
}

// known reports whether key names a Session field other than flows, as
// encoding/json matches names (ignoring case).
func known(key string) bool {
	for _, k := range sessionKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// open reads the "{" that starts a session, or says what the file is
// instead.
func (d *stream) open() error {
	tok, err := d.dec.Token()
	switch {
	case err == io.EOF:
		return fmt.Errorf("%w: empty file", ErrCorrupt)
	case errors.Is(err, ErrTooLarge):
		return err
	case err != nil:
		if _, ok := errors.AsType[*json.SyntaxError](err); ok {
			return fmt.Errorf("%w (not JSON)", ErrNotSession)
		}
		return err
	case tok == json.Delim('{'):
		return nil
	}
	return fmt.Errorf("%w (JSON %s, not an object)", ErrNotSession, tokenKind(tok))
}

// close reads the "}" that ends the session and checks nothing follows.
func (d *stream) close() error {
	if _, err := d.dec.Token(); err != nil {
		return d.syntax(err)
	}
	off := d.dec.InputOffset()
	switch _, err := d.dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return d.syntax(err)
	}
	return fmt.Errorf("%w: %s: more JSON after the session object", ErrCorrupt, d.place(off))
}

// flows reads the value of "flows": an array, decoded and checked one flow
// at a time. A flow whose values cannot be used gives bad, the first one
// only (the
// rest of the array is still read, for the syntax and for the keys that
// may follow); err is a syntax or read error, which ends the reading.
func (d *stream) flows(hint int) (flows []flow.Flow, bad, err error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, nil, d.syntax(err)
	}
	if tok != json.Delim('[') {
		if tok == json.Delim('{') {
			err = d.skipRest()
		}
		if err != nil {
			return nil, nil, d.syntax(err)
		}
		kind := tokenKind(tok)
		if raw, err := json.Marshal(tok); err == nil && kind != "object" {
			kind = got(raw) // a scalar: shown with its value when short
		}
		return nil, &FieldError{"flows", "want an array, got " + kind}, nil
	}
	flows = make([]flow.Flow, 0, hint)
	for i := 0; d.dec.More(); i++ {
		var raw json.RawMessage
		if err := d.dec.Decode(&raw); err != nil {
			return nil, nil, d.syntax(err)
		}
		if bad != nil {
			continue
		}
		path := fmt.Sprintf("flows[%d]", i)
		var f flow.Flow
		if err := json.Unmarshal(raw, &f); err != nil {
			bad = describeAt(path, raw, err, flowType)
			continue
		}
		if string(bytes.TrimSpace(raw)) == "null" {
			bad = &FieldError{path, "want an object, got null"}
			continue
		}
		if fe := checkFlow(i, &f); fe != nil {
			bad = fe
			continue
		}
		flows = append(flows, f)
	}
	if _, err := d.dec.Token(); err != nil {
		return nil, nil, d.syntax(err)
	}
	return flows, bad, nil
}

// minFlowJSON is about the fewest bytes Save writes for a flow (each has
// a uid, addresses, times, counts, state and outcome: over 300 bytes), for
// sizeHint. A file of shorter, hand-made flows only grows the slice.
const minFlowJSON = 256

// sizeHint is how many flows to make room for before reading them: the
// flow count of the stats when they came first (as Save writes them), but
// no more than the rest of the file could hold, so a false count costs no
// more than a file full of flows would. Growing the slice instead would copy it about twenty times for
// a million flows and hold the old copy meanwhile.
func (d *stream) sizeHint(head map[string]json.RawMessage) int {
	var st struct {
		Flows int64 `json:"flows"`
	}
	raw, ok := head["stats"]
	if !ok || json.Unmarshal(raw, &st) != nil || st.Flows <= 0 || d.in.size < 0 {
		return 0
	}
	return int(min(st.Flows, (d.in.size-d.in.n)/minFlowJSON))
}

// skip reads past the next value without keeping it: tokens one by one,
// so an unknown key's value costs no more than its longest string.
func (d *stream) skip() error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if tok == json.Delim('{') || tok == json.Delim('[') {
		return d.skipRest()
	}
	return nil
}

// skipRest reads to the end of the object or array whose opening token
// was just read.
func (d *stream) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// syntax turns an error of the decoder into one line: a truncation (with
// how many bytes the file has), a syntax error and where it is, or the
// read error as it is.
func (d *stream) syntax(err error) error {
	switch {
	case errors.Is(err, ErrTooLarge):
		return err
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated after %d bytes", ErrCorrupt, d.in.n)
	}
	if syn, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, d.place(d.dec.InputOffset()), oneLine(syn.Error()))
	}
	return err
}

// place says where byte off of the stream is: "line L column C" when the
// data can be read again (the error path only), else "byte N". The decoder
// stops at the start of the token or value it could not read.
func (d *stream) place(off int64) string {
	if d.seek == nil {
		return fmt.Sprintf("byte %d", off)
	}
	if _, err := d.seek.Seek(d.base, io.SeekStart); err != nil {
		return fmt.Sprintf("byte %d", off)
	}
	line, lineStart := 1, int64(0)
	buf := make([]byte, 64<<10)
	for pos := int64(0); pos < off; {
		n, err := d.seek.Read(buf[:min(int64(len(buf)), off-pos)])
		chunk := buf[:n]
		line += bytes.Count(chunk, []byte{'\n'})
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			lineStart = pos + int64(i) + 1
		}
		pos += int64(n)
		if err != nil {
			break
		}
	}
	return fmt.Sprintf("line %d column %d", line, off-lineStart+1)
}

// tokenKind names the kind of JSON value a first token starts.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case bool:
		return "true or false"
	case nil:
		return "null"
	}
	return "number"
}

// capped reads r counting the bytes, and fails with ErrTooLarge once r
// holds more than left bytes (no bound when left < 0), so a file that
// grows while it is read is bounded too.
type capped struct {
	r     io.Reader
	left  int64 // bytes still allowed; < 0: no bound
	limit int64
	size  int64 // the file's size when it was opened; < 0: unknown
	n     int64 // bytes read
	over  bool
}

func newCapped(r io.Reader, limit, size int64) *capped {
	return &capped{r: r, left: limit, limit: limit, size: size}
}

func (c *capped) Read(p []byte) (int, error) {
	if c.over {
		return 0, ErrTooLarge
	}
	if c.left == 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
			c.over = true
			return 0, fmt.Errorf("more than %s: %w", text.Size(c.limit), ErrTooLarge)
		}
		return 0, io.EOF
	}
	if c.left > 0 && int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.left > 0 {
		c.left -= int64(n)
	}
	return n, err
}

// newStream reads a session from r; seek, when not nil, is the same data
// again (see place).
func newStream(r *capped, seek io.ReadSeeker) *stream {
	d := &stream{dec: json.NewDecoder(bufio.NewReaderSize(r, 1<<20)), in: r}
	if seek != nil {
		if base, err := seek.Seek(0, io.SeekCurrent); err == nil {
			d.seek, d.base = seek, base
		}
	}
	return d
}
