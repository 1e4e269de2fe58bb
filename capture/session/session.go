// Package session saves what a capture learned (flows with their outcomes
// and names, capture statistics, the gateway's addresses) to a versioned
// JSON file, loads it back, and merges sessions from several gateways into
// one capture result, so any report can be rebuilt offline without the
// packets. docs/session.md documents the format.
package session

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
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
	// Start and End bound what was captured. A live capture records the
	// wall clock of the recorder when it started and stopped; replay
	// records the times of the earliest and latest packet it read (as
	// Stats.Start and Stats.End). Zero, and left out of the file, when
	// unknown: a replay of a capture without packets.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Hosts are the gateway's own addresses the capture was judged with,
	// and HostsHow says where they came from ("interface eth0 addresses",
	// "--host", "site file"). Empty when the recorder had none: a merged
	// report then infers them from this session's own flows.
	Hosts    []netip.Addr `json:"hosts"`
	HostsHow string       `json:"hosts_how,omitempty"`
	// HostsInferred is true when the recorder inferred Hosts from the
	// traffic rather than being given them (replay without --host).
	HostsInferred bool `json:"hosts_inferred,omitempty"`
	// Stats is the capture evidence, drop counters included.
	Stats capture.Stats `json:"stats"`
	// Flows are every flow the capture rebuilt, finished or still open
	// when it stopped, with outcome, names and ICMP reason. A file must
	// have the key: [] when the capture saw no flows.
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
	err := atomicfile.WriteFile(path, func(f *os.File) error {
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
