package pcapfile

import (
	"errors"
	"fmt"
	"io"

	"github.com/flowaudit/flowaudit/capture"
)

// OpenMerged opens several capture files and merges their frames in time
// order (ties go to the earlier file in paths), as mergecap does. One path
// gives the same capture.FrameReader as Open.
//
// A damaged file does not stop the others: its good frames are merged, and
// its error (naming the file, wrapping io.ErrUnexpectedEOF when truncated)
// is returned by Next once every file is exhausted, instead of io.EOF.
// Several such errors are joined on one line, separated by "; ", and
// errors.Is sees through to each of them.
func OpenMerged(paths []string) (capture.FrameReader, error) {
	ins := make([]Input, len(paths))
	for i, p := range paths {
		ins[i] = Input{Name: p}
	}
	return OpenInputs(ins)
}

// Input is one capture to read: the file at Name, or, when R is set, the
// stream R (standard input), which Name then stands for in errors and
// statistics (OpenReader).
type Input struct {
	Name string
	R    io.Reader
}

func (in Input) open() (capture.FrameReader, error) {
	if in.R != nil {
		return OpenReader(in.Name, in.R)
	}
	return Open(in.Name)
}

// OpenInputs is OpenMerged for files and streams.
func OpenInputs(ins []Input) (capture.FrameReader, error) {
	switch len(ins) {
	case 0:
		return nil, errors.New("open captures: no file given")
	case 1:
		return ins[0].open()
	}
	m := &mergeSource{srcs: make([]capture.FrameReader, 0, len(ins)), heads: make([]capture.Frame, len(ins)), pending: -1}
	for _, in := range ins {
		s, err := in.open()
		if err != nil {
			m.Close()
			return nil, err
		}
		m.srcs = append(m.srcs, s)
	}
	for i := range m.srcs {
		m.advance(i)
	}
	return m, nil
}

// mergeSource is a k-way merge over file sources. Each source's head frame
// aliases that source's buffer, so a source is advanced only when the
// caller comes back for the frame after the one taken from it.
type mergeSource struct {
	srcs  []capture.FrameReader
	heads []capture.Frame
	// heap holds the indices of sources with a head frame, ordered by
	// (head TS, index).
	heap    []int
	pending int // source whose head was handed out last, -1 if none
	errs    []error
}

// advance reads the next head of source i and puts it back in the heap.
func (m *mergeSource) advance(i int) {
	err := m.srcs[i].Next(&m.heads[i])
	switch {
	case err == nil:
		m.push(i)
	case err == io.EOF:
	default:
		m.errs = append(m.errs, err)
	}
}

// Next returns the earliest head frame among the files.
func (m *mergeSource) Next(f *capture.Frame) error {
	if m.pending >= 0 {
		m.advance(m.pending)
		m.pending = -1
	}
	if len(m.heap) == 0 {
		if len(m.errs) > 0 {
			return joinLine(m.errs)
		}
		return io.EOF
	}
	i := m.pop()
	*f = m.heads[i]
	m.pending = i
	return nil
}

// InterfaceDrops implements capture.InterfaceDropCounter over every file.
func (m *mergeSource) InterfaceDrops() uint64 {
	var n uint64
	for _, s := range m.srcs {
		if c, ok := s.(capture.InterfaceDropCounter); ok {
			n += c.InterfaceDrops()
		}
	}
	return n
}

// Close closes every file.
func (m *mergeSource) Close() error {
	var errs []error
	for _, s := range m.srcs {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close captures: %w", joinLine(errs))
	}
	return nil
}

// InputBytes implements capture.InputCounter: the sums over the merged
// files; the size is 0 (unknown) when a stream of unknown size is merged.
func (m *mergeSource) InputBytes() (read, size int64) {
	unknown := false
	for _, s := range m.srcs {
		if c, ok := s.(capture.InputCounter); ok {
			r, z := c.InputBytes()
			read, size = read+r, size+z
			unknown = unknown || z == 0
		}
	}
	if unknown {
		size = 0
	}
	return read, size
}

// joinLine joins errors like errors.Join, but on one line: each error
// already names its file, and warnings are shown one line each.
func joinLine(errs []error) error {
	err := errs[0]
	for _, e := range errs[1:] {
		err = fmt.Errorf("%w; %w", err, e)
	}
	return err
}

func (m *mergeSource) less(a, b int) bool {
	ta, tb := m.heads[a].TS, m.heads[b].TS
	return ta < tb || ta == tb && a < b
}

// push and pop keep a binary min-heap by hand: container/heap would box
// every index in an interface on the per-packet path.
func (m *mergeSource) push(i int) {
	h := append(m.heap, i)
	for c := len(h) - 1; c > 0; {
		parent := (c - 1) / 2
		if !m.less(h[c], h[parent]) {
			break
		}
		h[c], h[parent] = h[parent], h[c]
		c = parent
	}
	m.heap = h
}

func (m *mergeSource) pop() int {
	h := m.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for c := 0; ; {
		l, r, least := 2*c+1, 2*c+2, c
		if l < len(h) && m.less(h[l], h[least]) {
			least = l
		}
		if r < len(h) && m.less(h[r], h[least]) {
			least = r
		}
		if least == c {
			break
		}
		h[c], h[least] = h[least], h[c]
		c = least
	}
	m.heap = h
	return top
}
