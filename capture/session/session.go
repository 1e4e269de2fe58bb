// Package session saves what a capture learned (flows with their outcomes
// and names, capture statistics, the gateway's addresses) to a versioned
// JSON file, loads it back, and merges sessions from several gateways into
// one capture result, so any report can be rebuilt offline without the
// packets. docs/session.md documents the format.
package session

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Format is the value of every session file's "format" field: it tells a
// session from any other JSON file.
const Format = "flowaudit-session"

// Version is the session format version this package writes and reads.
// It changes when a field changes meaning or goes away; adding an
// optional field does not change it (readers ignore unknown fields).
const Version = 1

// Session is one capture run as saved to disk.
type Session struct {
	// Format is always Format and Version the version the file was
	// written with; Save fills both.
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ToolVersion is the flowaudit version that recorded the session.
	ToolVersion string `json:"tool_version"`
	// Node names the gateway the capture ran on (host name by default);
	// merged reports use it to say which node saw which flow.
	Node string `json:"node"`
	// Iface is the capture interface (live captures), Backend the capture
	// backend ("afpacket", "ebpf", "file").
	Iface   string `json:"iface,omitempty"`
	Backend string `json:"backend"`
	// Start and End bound the capture run (wall clock of the recorder, not
	// first and last packet: those are in Stats).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Hosts are the gateway's own addresses the capture was judged with,
	// and HostsHow says where they came from ("interface eth0 addresses",
	// "--host", "site file").
	Hosts    []netip.Addr `json:"hosts"`
	HostsHow string       `json:"hosts_how,omitempty"`
	// Stats is the capture evidence, drop counters included.
	Stats capture.Stats `json:"stats"`
	// Flows are every flow the capture rebuilt, finished or still open
	// when it stopped, with outcome, names and ICMP reason.
	Flows []flow.Flow `json:"flows"`
}

// New makes a session from a capture result.
func New(res *capture.Result, node, toolVersion string, start, end time.Time) *Session {
	s := &Session{
		Format:      Format,
		Version:     Version,
		ToolVersion: toolVersion,
		Node:        node,
		Start:       start.UTC(),
		End:         end.UTC(),
	}
	if res != nil {
		s.Stats = res.Stats
		s.Flows = res.Flows
		s.Backend = res.Stats.Backend
		s.Iface = res.Stats.Iface
	}
	return s
}

// Result returns the session's flows and statistics as a capture result
// (the flows are shared, not copied).
func (s *Session) Result() *capture.Result {
	return &capture.Result{Flows: s.Flows, Stats: s.Stats}
}

// Save writes s to path atomically: a temporary file in the same
// directory, synced and renamed, so a crash or kill leaves either no file
// or a complete one.
func Save(path string, s *Session) error {
	s.Format, s.Version = Format, Version
	if s.Flows == nil {
		s.Flows = []flow.Flow{}
	}
	err := capture.WriteFileAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		if err := enc.Encode(s); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// Errors Load wraps, for callers that want to tell them apart.
var (
	ErrNotSession = errors.New("not a flowaudit session file")
	ErrVersion    = errors.New("unsupported session version")
	ErrCorrupt    = errors.New("corrupt session file")
)

// Load reads a session file, checking its format and version first so a
// wrong or newer file is refused with one clear line.
func Load(path string) (*Session, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("load session %s: %w", path, err)
	}
	return s, nil
}

// Read decodes a session from r (see Load).
func Read(r io.Reader) (*Session, error) {
	data, err := io.ReadAll(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, err
	}
	// The header first: a file from a newer flowaudit may not decode into
	// this version's types, and the version error is the useful one.
	var head struct {
		Format  *string `json:"format"`
		Version *int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, describeJSONErr(data, err)
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
		return nil, describeJSONErr(data, err)
	}
	return &s, nil
}

// describeJSONErr names the problem and where it is.
func describeJSONErr(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case len(strings.TrimSpace(string(data))) == 0:
		return fmt.Errorf("%w: empty file", ErrCorrupt)
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "unexpected end"):
		return fmt.Errorf("%w: truncated after %d bytes", ErrCorrupt, len(data))
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Errorf("%w: line %d column %d: %v", ErrCorrupt, line, col, syn)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		return fmt.Errorf("%w: line %d column %d: field %q: %v", ErrCorrupt, line, col, typ.Field, typ)
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
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

// Merge joins sessions (several gateways of one cluster, or several runs
// of one gateway) into one capture result. Every flow's Node is set to
// the name of the session that recorded it (sessions without a node name
// are called "session-N", N counting from 1), counters are summed, the
// time span is the union and warnings are kept, prefixed by node.
func Merge(sessions ...*Session) *capture.Result {
	res := &capture.Result{}
	n := 0
	for _, s := range sessions {
		n += len(s.Flows)
	}
	res.Flows = make([]flow.Flow, 0, n)
	st := &res.Stats
	backends := map[string]bool{}
	var ifaces []string
	for i, s := range sessions {
		node := NodeName(s, i)
		for _, f := range s.Flows {
			f.Node = node
			res.Flows = append(res.Flows, f)
		}
		ss := s.Stats
		backends[ss.Backend] = true
		if ss.Iface != "" {
			ifaces = append(ifaces, node+":"+ss.Iface)
		}
		st.Files = append(st.Files, ss.Files...)
		if !ss.Start.IsZero() && (st.Start.IsZero() || ss.Start.Before(st.Start)) {
			st.Start = ss.Start
		}
		if ss.End.After(st.End) {
			st.End = ss.End
		}
		st.Packets += ss.Packets
		st.Bytes += ss.Bytes
		st.Flows += ss.Flows
		st.Undecodable += ss.Undecodable
		st.IfaceDrops += ss.IfaceDrops
		st.KernelDrops += ss.KernelDrops
		st.MissedBytes += ss.MissedBytes
		st.Evicted += ss.Evicted
		for _, w := range ss.Warnings {
			prefix := node + ": "
			if len(sessions) == 1 {
				prefix = ""
			}
			st.Warnings = append(st.Warnings, prefix+w)
		}
	}
	var names []string
	for b := range backends {
		names = append(names, b)
	}
	sort.Strings(names)
	st.Backend = strings.Join(names, "+")
	if len(sessions) == 1 {
		st.Iface = sessions[0].Stats.Iface
	} else {
		st.Iface = strings.Join(ifaces, ",")
	}
	// Flows in time order, as a single capture would list them.
	sort.SliceStable(res.Flows, func(a, b int) bool { return res.Flows[a].Start.Before(res.Flows[b].Start) })
	return res
}

// NodeName is the name Merge gives the i-th (0-based) session's flows.
func NodeName(s *Session, i int) string {
	if s.Node != "" {
		return s.Node
	}
	return fmt.Sprintf("session-%d", i+1)
}

// Hosts returns the union of the sessions' gateway addresses, sorted,
// and a description of where they came from.
func Hosts(sessions ...*Session) ([]netip.Addr, string) {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	var how []string
	for i, s := range sessions {
		for _, a := range s.Hosts {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
		if s.HostsHow != "" {
			h := s.HostsHow
			if len(sessions) > 1 {
				h = NodeName(s, i) + ": " + h
			}
			how = append(how, h)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Less(out[b]) })
	return out, strings.Join(how, "; ")
}
