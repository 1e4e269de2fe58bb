package session

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
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
	skew int64         // offset in the file of the decoder's first byte
}

// wireFlowType is the type every element of "flows" decodes into.
var wireFlowType = reflect.TypeFor[wireFlow]()

// headKeys are the JSON names of the fields other than flows that either
// version has; values of other keys are skipped unread (readers ignore
// unknown fields).
var headKeys = func() []string {
	var keys []string
	for _, t := range []reflect.Type{reflect.TypeFor[wireHeader](), reflect.TypeFor[wireTrailer](), reflect.TypeFor[wireTrailerV1]()} {
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if !slices.Contains(keys, name) {
				keys = append(keys, name)
			}
		}
	}
	return keys
}()

// scanned is what reading the top-level object gave.
type scanned struct {
	head     map[string]json.RawMessage
	sawFlows bool
	// keep mode (Read): the flows, and the first one that could not be
	// used (reported after the header's problems).
	flows    []flow.Flow
	badFlows error
	// skim mode (Open): where the flows array is in the file, from its
	// "[" to just after its "]".
	flowsAt, flowsEnd int64
}

// object reads the whole top-level object: the values of known keys
// gathered, those of unknown keys skipped, and the flows decoded and
// checked (keep, for Read) or only read past (for Open, which decodes
// them later, as they are iterated over).
func (d *stream) object(keep bool) (*scanned, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	sc := &scanned{head: map[string]json.RawMessage{}}
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return nil, d.syntax(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "flows"):
			if sc.sawFlows {
				return nil, &FieldError{"flows", "given twice"}
			}
			sc.sawFlows = true
			if err := d.flows(sc, keep); err != nil {
				return nil, err
			}
		case known(key):
			var raw json.RawMessage
			if err := d.dec.Decode(&raw); err != nil {
				return nil, d.syntax(err)
			}
			sc.head[key] = raw
		default:
			if err := d.skip(); err != nil {
				return nil, d.syntax(err)
			}
		}
	}
	if err := d.close(); err != nil {
		return nil, err
	}
	return sc, nil
}

// info decodes and checks the gathered fields, then says whether the
// flows key was there.
func (sc *scanned) info() (*Info, error) {
	data, err := json.Marshal(sc.head)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	info, err := decodeInfo(data)
	switch {
	case err != nil:
		return nil, err
	case !sc.sawFlows:
		return nil, &FieldError{"flows", "missing (want an array of flows, [] when the capture saw none)"}
	}
	return info, nil
}

// session reads a whole session, flows kept (Read).
func (d *stream) session() (*Session, error) {
	sc, err := d.object(true)
	if err != nil {
		return nil, err
	}
	info, err := sc.info()
	if err != nil {
		return nil, err
	}
	if sc.badFlows != nil {
		return nil, sc.badFlows
	}
	return &Session{Version: info.Version, Header: info.Header, Trailer: info.Trailer, Flows: sc.flows}, nil
}

// known reports whether key names a field other than flows, as
// encoding/json matches names (ignoring case).
func known(key string) bool {
	for _, k := range headKeys {
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
	off := d.skew + d.dec.InputOffset()
	switch _, err := d.dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return d.syntax(err)
	}
	return fmt.Errorf("%w: %s: more JSON after the session object", ErrCorrupt, d.place(off))
}

// flows reads the value of "flows": an array, whose flows are decoded
// and checked one at a time (keep), or only read past with their place
// noted. A flow whose values cannot be used gives sc.badFlows, the first
// one only (the rest of the array is still read, for the syntax and for
// the keys that may follow); the error returned is a syntax or read
// error, which ends the reading.
func (d *stream) flows(sc *scanned, keep bool) error {
	tok, err := d.dec.Token()
	if err != nil {
		return d.syntax(err)
	}
	if tok != json.Delim('[') {
		if tok == json.Delim('{') {
			err = d.skipRest()
		}
		if err != nil {
			return d.syntax(err)
		}
		kind := tokenKind(tok)
		if raw, err := json.Marshal(tok); err == nil && kind != "object" {
			kind = got(raw) // a scalar: shown with its value when short
		}
		sc.badFlows = &FieldError{"flows", "want an array, got " + kind}
		return nil
	}
	sc.flowsAt = d.skew + d.dec.InputOffset() - 1
	var fd flowDecoder
	if keep {
		sc.flows = make([]flow.Flow, 0, d.sizeHint(sc.head))
	}
	var raw json.RawMessage // reused: RawMessage decodes into its own capacity
	for i := 0; d.dec.More(); i++ {
		if err := d.dec.Decode(&raw); err != nil {
			return d.syntax(err)
		}
		if !keep || sc.badFlows != nil {
			continue
		}
		if err := fd.decode(i, raw); err != nil {
			sc.badFlows = err
			continue
		}
		sc.flows = append(sc.flows, *fd.f.Clone())
	}
	if _, err := d.dec.Token(); err != nil {
		return d.syntax(err)
	}
	sc.flowsEnd = d.skew + d.dec.InputOffset()
	return nil
}

// flowDecoder decodes flows one at a time into the same Flow.
type flowDecoder struct {
	w  wireFlow
	sc flowScratch
	f  flow.Flow
}

// decode decodes flows[i], raw, into fd.f and checks it.
func (fd *flowDecoder) decode(i int, raw json.RawMessage) error {
	fd.w = wireFlow{}
	if err := json.Unmarshal(raw, &fd.w); err != nil {
		return describeAt(fmt.Sprintf("flows[%d]", i), raw, err, wireFlowType)
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return &FieldError{fmt.Sprintf("flows[%d]", i), "want an object, got null"}
	}
	fd.w.toFlow(&fd.f, &fd.sc)
	if fe := checkFlow(i, &fd.f); fe != nil {
		return fe
	}
	return nil
}

// minFlowJSON is about the fewest bytes a flow takes in a file (each has
// a uid, addresses, times, counts, state and outcome: about 300 bytes), for
// sizeHint. A file of shorter, hand-made flows only grows the slice.
const minFlowJSON = 256

// sizeHint is how many flows to make room for before reading them: the
// flow count of the stats when they came first (as version 1 wrote them),
// but no more than the rest of the file could hold, so a false count costs
// no more than a file full of flows would. Growing the slice instead would
// copy it about twenty times for a million flows and hold the old copy
// meanwhile.
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
		return fmt.Errorf("%w: truncated after %d bytes", ErrCorrupt, d.skew+d.in.n)
	}
	if syn, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, d.place(d.skew+d.dec.InputOffset()), oneLine(syn.Error()))
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
