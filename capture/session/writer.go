package session

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
)

// Writer writes a session as the capture goes: the header when it is
// created, each flow as it finishes, the trailer when the capture ends.
// Its memory does not depend on the number of flows. The file appears at
// its path complete or not at all (internal/atomicfile): a hidden
// temporary file next to it, synced and renamed by Close, removed by
// Abort. Not safe for concurrent use.
type Writer struct {
	file *atomicfile.File
	buf  *bufio.Writer
	line bytes.Buffer  // one flow's JSON
	enc  *json.Encoder // into line
	wf   wireFlow
	// start is the session's start when the header had none (SetStart);
	// started says whether the header had one.
	start   time.Time
	started bool
	flows   uint64
	err     error // the first error: every later call returns it
}

// Create starts writing a session to path with header h (Format and
// Version are the Writer's).
func Create(path string, h Header) (*Writer, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("save session: %w", err)
	}
	w := &Writer{file: f, buf: bufio.NewWriterSize(f, 1<<20), started: !h.Start.IsZero()}
	w.enc = json.NewEncoder(&w.line)
	head := wireHeader{Format: Format, Version: Version, ToolVersion: h.ToolVersion, Node: h.Node, Iface: h.Iface,
		Backend: h.Backend, Start: utc(h.Start), Context: contextToWire(h.Context)}
	data, err := json.MarshalIndent(head, "", " ")
	if err != nil {
		f.Abort()
		return nil, fmt.Errorf("save session %s: %w", path, err)
	}
	// The header object without its "}", then the flows array.
	w.buf.Write(data[:len(data)-2])
	w.buf.WriteString(",\n \"flows\": [")
	return w, nil
}

// Flow appends f to the session, on a line of its own. It keeps nothing
// f points to. After an error (a full disk), Flow and Close return it
// again and write nothing more: the capture goes on, the session is lost,
// and Close says so.
func (w *Writer) Flow(f *flow.Flow) error {
	if w.err != nil {
		return w.err
	}
	flowToWire(f, &w.wf)
	w.line.Reset()
	if err := w.enc.Encode(&w.wf); err != nil {
		return w.fail(err)
	}
	if w.flows > 0 {
		w.buf.WriteByte(',')
	}
	w.buf.WriteString("\n  ")
	w.buf.Write(bytes.TrimSuffix(w.line.Bytes(), []byte("\n")))
	w.flows++
	return w.check()
}

// check returns the buffer's sticky write error, if any.
func (w *Writer) check() error {
	if _, err := w.buf.Write(nil); err != nil {
		return w.fail(err)
	}
	return nil
}

// SetStart sets the session's start when the header had none: a replay
// learns its first packet's time as it reads, and writes its session as
// it goes. It is written with the trailer; with a start in the header,
// SetStart does nothing.
func (w *Writer) SetStart(t time.Time) {
	if !w.started {
		w.start = utc(t)
	}
}

// Flows is the number of flows written so far.
func (w *Writer) Flows() uint64 { return w.flows }

// Err is the error that stopped the Writer, if any.
func (w *Writer) Err() error { return w.err }

// Close writes the trailer t, flushes and syncs the file and renames it
// into place. On any error the temporary file is removed and the error
// says which session could not be written ("save session: write
// gw1.session.json: no space left on device").
func (w *Writer) Close(t Trailer) error {
	if w.err != nil {
		w.file.Abort()
		return w.err
	}
	if t.Hosts.Origin == capture.OriginSessions {
		w.file.Abort()
		return w.fail(errors.New("the gateway addresses of merged sessions are not one capture's"))
	}
	if w.flows > 0 {
		w.buf.WriteString("\n ")
	}
	w.buf.WriteString("]")
	tail := wireTrailer{Start: w.start, End: utc(t.End), Hosts: hostsToWire(&t.Hosts), Stats: statsToWire(&t.Stats)}
	data, err := json.MarshalIndent(tail, "", " ")
	if err != nil {
		w.file.Abort()
		return w.fail(err)
	}
	// The trailer's fields follow the flows in the same object.
	w.buf.WriteString(",\n")
	w.buf.Write(data[2:])
	w.buf.WriteString("\n")
	if err := w.buf.Flush(); err != nil {
		w.file.Abort()
		return w.fail(err)
	}
	if err := w.file.Commit(); err != nil {
		w.err = fmt.Errorf("save session: %w", err)
		return w.err
	}
	w.err = fmt.Errorf("save session %s: already closed", w.file.Path())
	return nil
}

// Abort stops writing: the temporary file is removed, the destination is
// left as it was. It is safe after Close, so `defer w.Abort()` is the
// usual pattern.
func (w *Writer) Abort() {
	w.file.Abort()
	if w.err == nil {
		w.err = fmt.Errorf("save session %s: aborted", w.file.Path())
	}
}

// fail records err as the Writer's, in the words of a failed save.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		// "write s.json: no space left on device", not the temporary
		// file's name.
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		w.err = fmt.Errorf("save session: write %s: %w", w.file.Path(), err)
	}
	return w.err
}
