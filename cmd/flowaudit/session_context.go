package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/inputfile"
)

// A session records what its capture was audited against (its Context),
// so that `report` needs no flags: each input comes from its flag when
// one is given, else from what the sessions recorded.

// sessionSink writes a capture's or replay's session as its flows finish
// (session.Writer): its memory does not grow with the capture. A write
// error (a full disk) ends the session, not the capture: close returns it.
type sessionSink struct {
	w    *session.Writer
	path string
}

// openSession starts the session file path (nil when path is ""): header
// h, with what the audit was run against (f, opts). It fails before
// anything is captured when the file cannot be created.
func (a *app) openSession(path string, f *auditFlags, opts analyze.Options, h session.Header) (*sessionSink, error) {
	if path == "" {
		return nil, nil
	}
	ctx, err := f.sessionContext(a, opts)
	if err != nil {
		return nil, fmt.Errorf("save session: %w", err)
	}
	h.ToolVersion, h.Context = version, ctx
	w, err := session.Create(path, h)
	if err != nil {
		return nil, err
	}
	return &sessionSink{w: w, path: path}, nil
}

// Flow appends f; an error is kept for close.
func (s *sessionSink) Flow(f *flow.Flow) { _ = s.w.Flow(f) }

// Progress is ignored: a session holds flows and the final stats.
func (s *sessionSink) Progress(capture.Progress) {}

// sink is s as a capture.Sink: nil (skipped by capture.Tee) without a
// session.
func (s *sessionSink) sink() capture.Sink {
	if s == nil {
		return nil
	}
	return s
}

// close writes the trailer (the capture's end, the gateway addresses its
// audit used, its stats) and puts the file in place. The start is the
// capture's first packet when the header had none (a replay).
func (s *sessionSink) close(st capture.Stats, end time.Time, hosts capture.HostsDecision) error {
	if s == nil {
		return nil
	}
	s.w.SetStart(st.Start)
	return s.w.Close(session.Trailer{End: end, Hosts: hosts, Stats: st})
}

// abort removes a session that will not be completed.
func (s *sessionSink) abort() {
	if s != nil {
		s.w.Abort()
	}
}

// sessionContext is what a session records of the audit's inputs: the
// products, the catalog overlays and the site file with their content
// (read again: catalog and site files are small), and the features of
// --with and --without.
func (f *auditFlags) sessionContext(a *app, opts analyze.Options) (*session.Context, error) {
	c := &session.Context{Products: []string{}}
	for _, p := range opts.Products {
		c.Products = append(c.Products, p.Name)
	}
	for _, file := range f.catalogs {
		data, err := readSmall(file, cmp.Or(int64(a.maxInput), catalog.MaxFileSize))
		if err != nil {
			return nil, fmt.Errorf("record catalog %s: %w", file, err)
		}
		c.Catalogs = append(c.Catalogs, session.FileRecord{File: file, SHA256: session.SHA256(data), Content: string(data)})
	}
	if f.site != "" && opts.Site != nil {
		data, err := readSmall(f.site, cmp.Or(int64(a.maxInput), catalog.MaxFileSize))
		if err != nil {
			return nil, fmt.Errorf("record site file %s: %w", f.site, err)
		}
		c.Site = &session.SiteRecord{File: f.site, SHA256: session.SHA256(data), Hosts: opts.Site.Hosts,
			Zones: opts.Site.Zones, Features: opts.Site.Features}
	}
	if len(opts.Features) > 0 {
		c.Features = opts.Features
	}
	return c, nil
}

// readSmall reads a regular file of at most max bytes.
func readSmall(path string, max int64) ([]byte, error) {
	file, _, err := inputfile.Open(path, max)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(io.LimitReader(file, max))
}

// recordedInputs is what the sessions of a report recorded of the inputs
// no flag gives (they agree on them: agreedContext).
type recordedInputs struct {
	catalogs []session.FileRecord
	siteRec  *session.SiteRecord
}

// loadCatalog is the catalog the audit uses: the bundled products with
// the --catalog overlays, or, when none is given, those a session
// recorded.
func (f *auditFlags) loadCatalog(a *app) (*catalog.Catalog, error) {
	if f.recorded == nil || len(f.catalogs) > 0 || len(f.recorded.catalogs) == 0 {
		return a.loadCatalog(f.catalogs)
	}
	c, err := catalog.Bundled()
	if err != nil {
		return nil, err
	}
	for _, rec := range f.recorded.catalogs {
		p, err := catalog.Parse(rec.File, []byte(rec.Content))
		if err != nil {
			return nil, fmt.Errorf("catalog overlay recorded in the session: %w", firstProblem(err, rec.File, false))
		}
		c = c.Overlay(&catalog.Catalog{Products: []*catalog.Product{p}})
		if err := c.CheckSize(); err != nil {
			return nil, fmt.Errorf("%s (recorded in the session): %w", catalog.Visible(rec.File), err)
		}
	}
	return c, nil
}

// site is the site file a session recorded, as the audit reads it, and its
// name; nil when it recorded none.
func (r *recordedInputs) site() (*catalog.Site, string) {
	s := r.siteRec
	if s == nil {
		return nil, ""
	}
	site := &catalog.Site{Hosts: s.Hosts, Zones: s.Zones, Features: s.Features}
	if site.Zones == nil {
		site.Zones = map[string][]netip.Prefix{}
	}
	if site.Features == nil {
		site.Features = map[string]bool{}
	}
	return site, s.File
}

// reportOptions are the audit options of a report over the sessions rs:
// the flags given, and for each input no flag gives, what the sessions
// recorded (from names those taken). Sessions that recorded different
// values of an input no flag gives are refused: the error names the input
// and the flag that chooses.
func (a *app) reportOptions(f *auditFlags, rs []*session.Reader) (analyze.Options, []analyze.Status, []string, error) {
	rec, from, err := agreedContext(f, rs)
	if err != nil {
		return analyze.Options{}, nil, nil, err
	}
	g := *f
	if rec != nil {
		g.recorded = &recordedInputs{siteRec: rec.Site}
		if slices.Contains(from, recordedCatalogs) {
			g.recorded.catalogs = rec.Catalogs
		}
		if len(g.products) == 0 {
			g.products = rec.Products
		}
		if g.site != "" {
			g.recorded.siteRec = nil
		}
	}
	opts, failOn, err := g.resolve(a)
	if err != nil || !slices.Contains(from, recordedFeatures) {
		return opts, failOn, from, err
	}
	// Recorded features of products --product replaced have no effect:
	// a warning, as for a site file's, not an error as for --with.
	opts.Features = map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(rec.Features)) {
		if err := checkFeature(opts.Products, name); err != nil {
			a.log.Warn(fmt.Sprintf("session %s: recorded %v: it has no effect", rs[0].Path(), err))
			continue
		}
		opts.Features[name] = rec.Features[name]
	}
	return opts, failOn, from, nil
}

// The inputs a report may take from its sessions, as Report.Recorded
// names them.
const (
	recordedProducts = "products"
	recordedCatalogs = "catalog overlays"
	recordedSite     = "site file"
	recordedFeatures = "features"
)

// contextField is one input a session records.
type contextField struct {
	name  string
	flag  string
	given bool
	// value is the input as recorded, as text to compare and show; ""
	// when not recorded.
	value func(*session.Context) string
}

// agreedContext is the context the sessions recorded, for the inputs no
// flag gives, and the names of those it gives (nil, nil when no session
// recorded one: files of version 1). Sessions must agree on those inputs.
func agreedContext(f *auditFlags, rs []*session.Reader) (*session.Context, []string, error) {
	fields := []contextField{
		{recordedProducts, "--product", len(f.products) > 0, func(c *session.Context) string { return strings.Join(c.Products, ", ") }},
		{recordedCatalogs, "--catalog", len(f.catalogs) > 0, func(c *session.Context) string {
			var s []string
			for _, r := range c.Catalogs {
				s = append(s, r.File+" "+r.SHA256)
			}
			return strings.Join(s, ", ")
		}},
		{recordedSite, "--site", f.site != "", func(c *session.Context) string {
			if c.Site == nil {
				return ""
			}
			return c.Site.File + " " + c.Site.SHA256
		}},
		{recordedFeatures, "--with or --without", len(f.with)+len(f.without) > 0, func(c *session.Context) string {
			return strings.Join(featureFlags(c.Features), ", ")
		}},
	}
	first := rs[0].Info().Context
	var from []string
	for _, fl := range fields {
		if fl.given {
			continue
		}
		v0 := valueOf(fl, first)
		for _, r := range rs[1:] {
			if v := valueOf(fl, r.Info().Context); v != v0 {
				return nil, nil, fmt.Errorf("sessions %s and %s were recorded with different %s (%s; %s): give %s to choose",
					rs[0].Path(), r.Path(), fl.name, shown(fl.name, v0), shown(fl.name, v), fl.flag)
			}
		}
		if v0 != "" {
			from = append(from, fl.name)
		}
	}
	if first == nil {
		return nil, nil, nil
	}
	return first, from, nil
}

func valueOf(fl contextField, c *session.Context) string {
	if c == nil {
		return ""
	}
	return fl.value(c)
}

// shown is a recorded value in an error: without the hashes, which
// differ when the names do not.
func shown(name, v string) string {
	switch {
	case v == "":
		return "none"
	case name == recordedCatalogs || name == recordedSite:
		var files []string
		for part := range strings.SplitSeq(v, ", ") {
			file, sum, _ := strings.Cut(part, " ")
			files = append(files, file+" sha256 "+sum[:min(len(sum), 12)])
		}
		return strings.Join(files, ", ")
	}
	return v
}

// featureFlags are features as --with values ("cluster=true"), sorted.
func featureFlags(m map[string]bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+strconv.FormatBool(m[k]))
	}
	return out
}
