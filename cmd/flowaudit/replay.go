package main

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/analyze/render"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/catalog"
)

func init() { subcommands = append(subcommands, newReplayCmd) }

// auditFlags are the flags every command that produces a report shares
// (replay here; capture and report may reuse them).
type auditFlags struct {
	products []string
	hosts    []string
	site     string
	with     []string
	without  []string
	catalogs []string
	format   string
	output   string
	failOn   string
	all      bool
	// recorded is what the sessions of a report recorded, for the inputs
	// no flag gives (report.go).
	recorded *recordedInputs
}

func (f *auditFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.products, "product", "p", nil, "product `P` to audit against (repeatable or comma-separated; see `flowaudit catalog list`)")
	fl.StringSliceVar(&f.hosts, "host", nil, "gateway address `ADDR` (repeatable); default: the site file's hosts, else inferred from the traffic")
	fl.StringVar(&f.site, "site", "", "site `FILE`: gateway hosts, zone CIDRs, features in use")
	fl.StringSliceVar(&f.with, "with", nil, "feature `F` in use (repeatable or comma-separated; F=false turns one off)")
	fl.StringSliceVar(&f.without, "without", nil, "feature `F` not in use (repeatable or comma-separated)")
	fl.StringArrayVar(&f.catalogs, "catalog", nil, "catalog `FILE` overlaid on the bundled products (repeatable; later files win)")
	fl.StringVarP(&f.format, "format", "f", defaultReportFormat, "report `FORMAT`: "+reportFormatNames())
	fl.StringVarP(&f.output, "output", "o", "", "write the report to `FILE` (atomically) instead of stdout")
	fl.BoolVar(&f.all, "all", false, "list every not-applicable requirement in full (by default they fold to one line)")
	fl.StringVar(&f.failOn, "fail-on", "blocked,partial,inconclusive,never-seen,unexpected",
		"`STATUSES` that make the exit status 1 (comma-separated: blocked, partial, inconclusive, never-seen, ok, not-applicable, unexpected; \"none\" for never)")
}

// replayFlags are replay's flags.
type replayFlags struct {
	audit    auditFlags
	session  sessionFlags
	maxFlows int
}

func newReplayCmd(a *app) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay [flags] FILE...",
		Short: "Audit captured traffic (pcap/pcapng files) against products' requirements",
		Long: "replay rebuilds the flows of one or more capture files and checks them against the\n" +
			"network requirements of the products named with --product: each requirement is ok,\n" +
			"partial, blocked (with the reason), never-seen or not-applicable, and flows no\n" +
			"requirement allows are listed as unexpected. docs/report.md explains the report.\n\n" +
			"Exit status: 0 when every applicable requirement is ok and nothing is unexpected,\n" +
			"1 when the report has findings (--fail-on), 2 for usage or input errors, 130 when\n" +
			"Ctrl-C (143 when SIGTERM) stopped reading (the partial report is written; a\n" +
			"second signal aborts).",
		Example: "  flowaudit replay --product mailcleaner --host 192.0.2.10 gateway.pcap\n" +
			"  flowaudit replay -p mailcleaner --site site.yaml --with premium-support -o report.json day1.pcapng day2.pcapng",
		RunE: func(cmd *cobra.Command, args []string) error { return a.runReplay(&f, args) },
	}
	f.audit.register(cmd)
	f.session.register(cmd)
	a.addMaxInputFlag(cmd.Flags())
	cmd.Flags().Lookup("node").Usage = "gateway name recorded in the session (default: the first capture's file name without extensions)"
	cmd.Flags().IntVar(&f.maxFlows, "max-flows", 0,
		"bound on concurrent flows `N`; the longest idle are finished early when it is reached (0: the default, 262144)")
	return cmd
}

// runReplay audits the capture files args: capture files -> Replay ->
// the Auditor (and the flows kept for --session).
func (a *app) runReplay(f *replayFlags, args []string) error {
	opts, failOn, err := f.check(a, args)
	if err != nil {
		return err
	}
	aud, err := analyze.NewAuditor(opts)
	if err != nil {
		return err
	}
	// The session is written as the flows finish: nothing is held for it.
	sess, err := a.openSession(f.session.path, &f.audit, opts, session.Header{Node: f.session.node, Backend: "file"})
	if err != nil {
		return err
	}
	defer sess.abort() // after close, a no-op
	if !aud.KeepsFlows() {
		setMemoryLimit(streamHeapLimit(f.maxFlows))
	}
	st, err := a.replayFiles(args, f.maxFlows, capture.Tee(auditSink(aud), sess.sink()), false)
	if err != nil {
		return err
	}
	rep := aud.Report(st)
	// The session keeps the addresses this audit used (inferred ones
	// too), so a report merging it with other gateways' sessions audits
	// each node with its own.
	saveErr := sess.close(st, st.End, rep.Hosts.From)
	// The report is written even when the session could not be.
	err = a.writeFindings(rep, failOn, &f.audit)
	return a.interrupted(joinWriteErrors(err, saveErr))
}

// auditSink streams flows into the Auditor.
func auditSink(aud *analyze.Auditor) capture.Sink { return capture.SinkFuncs{OnFlow: aud.Add} }

// check refuses unusable flags and inputs with one line before anything
// is read, and returns the audit's options.
func (f *replayFlags) check(a *app, args []string) (analyze.Options, []analyze.Status, error) {
	if len(args) == 0 {
		return analyze.Options{}, nil, errors.New("replay: no capture file given (flowaudit replay --product P FILE...)")
	}
	opts, failOn, err := f.audit.resolve(a)
	if err != nil {
		return opts, nil, err
	}
	if f.maxFlows < 0 {
		return opts, nil, fmt.Errorf("--max-flows %d: want a positive number (or 0: the default)", f.maxFlows)
	}
	sf := &f.session
	if sf.node != "" && sf.path == "" {
		return opts, nil, errors.New("--node names the gateway in a session: give --session FILE too")
	}
	if err := checkNode(sf.node); err != nil {
		return opts, nil, err
	}
	if sf.node == "" {
		sf.node = nodeFromCapture(args[0])
	}
	if err := checkInputs(args); err != nil {
		return opts, nil, err
	}
	if err := checkOutputs(append(f.audit.inputFiles(), args...), output{"--output", f.audit.output}, output{"--session", sf.path}); err != nil {
		return opts, nil, err
	}
	if err := f.audit.resolveFormat(); err != nil {
		return opts, nil, err
	}
	return opts, failOn, nil
}

// resolveFormat turns --format and --output into the format written
// (resolveFormat): a usage error before anything is read.
func (f *auditFlags) resolveFormat() error {
	format, err := resolveFormat(reportFileFormats, "report ", f.format, "table", f.output)
	if err != nil {
		return err
	}
	f.format = format
	return nil
}

// writeFindings writes the report as f asks (--format, --output, --all)
// and turns findings into the exit status.
func (a *app) writeFindings(rep *analyze.Report, failOn []analyze.Status, f *auditFlags) error {
	rep.Tool = "flowaudit " + version
	if err := writeReport(a, rep, f.format, f.output, render.Options{All: f.all}); err != nil {
		return err
	}
	if n := rep.Findings(failOn); n > 0 {
		return &findingsError{n: n}
	}
	return nil
}

// resolve turns the flags into audit options: products from the catalog
// (bundled plus --catalog files), the site file, hosts and features.
func (f *auditFlags) resolve(a *app) (analyze.Options, []analyze.Status, error) {
	var opts analyze.Options
	failOn, err := parseFailOn(f.failOn)
	if err != nil {
		return opts, nil, err
	}
	cat, err := f.loadCatalog(a) // --catalog files, else a session's record
	if err != nil {
		return opts, nil, err
	}
	if len(f.products) == 0 {
		return opts, nil, fmt.Errorf("no product given: use --product with one or more of %s", strings.Join(cat.Names(), ", "))
	}
	for _, name := range f.products {
		p, err := cat.Product(strings.TrimSpace(name))
		if err != nil {
			return opts, nil, err // names the known products
		}
		opts.Products = append(opts.Products, p)
	}
	if f.site != "" {
		if opts.Site, err = catalog.LoadSiteLimit(f.site, int64(a.maxInput)); err != nil {
			return opts, nil, sizeHint(firstProblem(err, f.site, true))
		}
		opts.SiteFile = f.site
	} else if f.recorded != nil {
		opts.Site, opts.SiteFile = f.recorded.site() // what a session recorded
	}
	for _, h := range f.hosts {
		addr, err := netip.ParseAddr(strings.TrimSpace(h))
		if err != nil {
			return opts, nil, fmt.Errorf("--host %q: not an IP address", h)
		}
		if addr.Zone() != "" || addr.IsMulticast() || addr.IsUnspecified() || !addr.IsValid() {
			return opts, nil, fmt.Errorf("--host %q: want the gateway's unicast address, without a %%zone", h)
		}
		opts.Hosts = append(opts.Hosts, addr.Unmap())
	}
	if opts.Features, err = parseFeatures(f.with, f.without); err != nil {
		return opts, nil, err
	}
	for name := range opts.Features {
		if err := checkFeature(opts.Products, name); err != nil {
			return opts, nil, err
		}
	}
	if opts.Site != nil {
		// A site file may serve several products, so a feature none of
		// these products has is a warning, not an error: likely a typo.
		for _, name := range slices.Sorted(maps.Keys(opts.Site.Features)) {
			if err := checkFeature(opts.Products, name); err != nil {
				a.log.Warn(fmt.Sprintf("site file %s: %v: it has no effect", f.site, err))
			}
		}
	}
	return opts, failOn, nil
}

// parseFeatures reads --with values ("F" or "F=true|false") and --without
// values ("F"). A feature named in both is an error: which one was meant?
func parseFeatures(with, without []string) (map[string]bool, error) {
	m := map[string]bool{}
	for _, w := range with {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		name, val, hasVal := strings.Cut(w, "=")
		on := true
		if hasVal {
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, fmt.Errorf("--with %q: want FEATURE or FEATURE=true|false", w)
			}
			on = b
		}
		if prev, ok := m[name]; ok && prev != on {
			return nil, fmt.Errorf("feature %q is turned both on and off by --with", name)
		}
		m[name] = on
	}
	for _, w := range without {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		if _, ok := m[w]; ok {
			return nil, fmt.Errorf("feature %q is given to both --with and --without", w)
		}
		m[w] = false
	}
	return m, nil
}

// parseFailOn reads --fail-on: comma-separated statuses, or "none".
func parseFailOn(s string) ([]analyze.Status, error) {
	var out []analyze.Status
	if strings.TrimSpace(s) == "" {
		return nil, errors.New(`--fail-on "": give statuses (blocked, partial, inconclusive, never-seen, ok, not-applicable, unexpected) or none`)
	}
	parts := strings.Split(s, ",")
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if part == "none" {
			if len(parts) > 1 {
				return nil, fmt.Errorf("--fail-on %q: \"none\" cannot be combined with statuses", s)
			}
			continue
		}
		st, ok := analyze.ParseStatus(part)
		if !ok {
			return nil, fmt.Errorf("--fail-on %q: unknown status %q (want blocked, partial, inconclusive, never-seen, ok, not-applicable, unexpected or none)", s, part)
		}
		out = append(out, st)
	}
	return out, nil
}

// joinWriteErrors combines the report's result with a session's: one
// line, and the findings status only when nothing failed.
func joinWriteErrors(reportErr, saveErr error) error {
	switch {
	case saveErr == nil:
		return reportErr
	case reportErr == nil || asFindings(reportErr, new(*findingsError)):
		return saveErr
	}
	return fmt.Errorf("%w; %w", reportErr, saveErr)
}
