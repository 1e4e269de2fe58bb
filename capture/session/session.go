// Package session saves what a capture learned (flows with their outcomes
// and names, capture statistics, the gateway's addresses and what the
// capture was audited against) to a versioned JSON file, reads it back as
// a stream, and merges sessions from several gateways into one capture,
// so any report can be rebuilt offline without the packets. The file has
// its own wire structs (wire.go), converted explicitly to and from
// flow.Flow and capture.Stats; docs/session.md documents the format.
package session

import (
	"iter"
	"net/netip"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// Format is the value of every session file's "format" field: it tells a
// session from any other JSON file.
const Format = "flowaudit-session"

// Version is the session format version this package writes. It reads
// version 1 too (legacy.go). It changes when a field changes meaning or
// goes away; adding an optional field does not change it (readers ignore
// unknown fields).
const Version = 2

// Header is what a session says before its flows: known when the capture
// starts.
type Header struct {
	// ToolVersion is the flowaudit version that recorded the session.
	ToolVersion string
	// Node names the gateway the capture ran on (host name by default);
	// merged reports use it to say which node saw which flow.
	Node string
	// Iface is the capture interface (live captures), Backend the capture
	// backend ("afpacket", "ebpf", "file").
	Iface   string
	Backend string
	// Start is when the capture started: the recorder's wall clock for a
	// live capture, the first packet's time for a replay. Zero, and left
	// out of the file, when unknown.
	Start time.Time
	// Context is what the capture was audited against, so that a report
	// needs no flags; nil in version 1 files.
	Context *Context
}

// Trailer is what a session says after its flows: known when the capture
// ends.
type Trailer struct {
	// End is when the capture stopped (the last packet's time for a
	// replay); zero when unknown.
	End time.Time
	// Hosts are the gateway addresses the capture was judged with and
	// where they came from (Origin capture.OriginNone when the recorder
	// had none: a report then infers them from the session's flows).
	Hosts capture.HostsDecision
	// Stats is the capture evidence, drop counters included.
	Stats capture.Stats
}

// Info is a session file without its flows: Open reads it whole, wherever
// its fields are in the file.
type Info struct {
	// Version is the format version the file was written with.
	Version int
	Header
	Trailer
}

// Context is what a capture was audited against when it was recorded.
type Context struct {
	// Products are the product names audited (--product), in order.
	Products []string
	// Catalogs are the catalog overlays used (--catalog), in order, with
	// their content: a report over the session needs no file but the
	// session. Overlays are small (the catalog reader's limit is 4 MiB by
	// default), sessions are not.
	Catalogs []FileRecord
	// Site is the site file used (--site), with what it said; nil when
	// none was.
	Site *SiteRecord
	// Features are the features given with --with and --without (nil when
	// none were); the site file's own are in Site.
	Features map[string]bool
}

// FileRecord is a file a capture read: its name as given, the SHA-256 of
// its content (hex) and the content.
type FileRecord struct {
	File    string
	SHA256  string
	Content string
}

// SiteRecord is a site file as a capture read it: its name and SHA-256,
// and what it said (the parsed file, as catalog.Site holds it: this
// package knows nothing of the catalog).
type SiteRecord struct {
	File     string
	SHA256   string
	Hosts    []netip.Addr
	Zones    map[string][]netip.Prefix
	Features map[string]bool
}

// Session is a whole session in memory, for small sessions and tests:
// Save writes one and Load reads one. Commands stream instead (Create,
// Open).
type Session struct {
	// Version is the format version the file was read from (Save writes
	// Version whatever it says).
	Version int
	Header
	Trailer
	// Flows are every flow the capture rebuilt, finished or still open
	// when it stopped.
	Flows []flow.Flow
}

// Source is a session to merge: a Reader, or a Session in memory
// (Session.Source).
type Source interface {
	// Info is the session without its flows.
	Info() *Info
	// Flows iterates over its flows, each valid until the next (the
	// *flow.Flow is reused); it may be called again.
	Flows() iter.Seq[*flow.Flow]
	// Err is the error that ended the last iteration early, if any.
	Err() error
}

// Source returns s as a Source, for Merge.
func (s *Session) Source() Source { return memSource{s} }

// memSource is a Session in memory as a Source.
type memSource struct{ s *Session }

func (m memSource) Info() *Info {
	return &Info{Version: m.s.Version, Header: m.s.Header, Trailer: m.s.Trailer}
}

func (m memSource) Flows() iter.Seq[*flow.Flow] {
	return func(yield func(*flow.Flow) bool) {
		for i := range m.s.Flows {
			if !yield(&m.s.Flows[i]) {
				return
			}
		}
	}
}

// Err is always nil: a Session in memory has been read already.
func (m memSource) Err() error { return nil }

// Save writes s to path atomically (see Create).
func Save(path string, s *Session) error {
	w, err := Create(path, s.Header)
	if err != nil {
		return err
	}
	for i := range s.Flows {
		if err := w.Flow(&s.Flows[i]); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close(s.Trailer)
}

// Load reads a whole session file into memory (see Open, whose checks it
// makes, and Read). The file must be a regular file of at most
// MaxFileSize bytes (see LoadLimit).
func Load(path string) (*Session, error) {
	return LoadLimit(path, MaxFileSize)
}

// LoadLimit is Load for a file of at most max bytes (MaxFileSize when max
// is 0).
func LoadLimit(path string, max int64) (*Session, error) {
	r, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	info := r.Info()
	s := &Session{Version: info.Version, Header: info.Header, Trailer: info.Trailer, Flows: []flow.Flow{}}
	for f := range r.Flows() {
		s.Flows = append(s.Flows, *f.Clone())
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return s, nil
}
