package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/session"
)

func init() { subcommands = append(subcommands, newReportCmd) }

func newReportCmd(a *app) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "report [flags] SESSION...",
		Short: "Rebuild a report offline from saved sessions (several: one merged report)",
		Long: "report audits the flows saved by `capture --session` or `replay --session` again,\n" +
			"without the packets. A session records what it was audited against (products,\n" +
			"catalog overlays, site file, features): report uses that unless a flag says\n" +
			"otherwise, and the report names what it took from the sessions. Several sessions\n" +
			"(the gateways of a cluster, or several runs) are merged into one report whose\n" +
			"requirements and unexpected flows name the nodes that saw them; they must have\n" +
			"been recorded against the same inputs, or flags must choose.\n" +
			"The gateway addresses come from --host, else the site file, else the sessions:\n" +
			"the union of the addresses each session recorded, each session that recorded\n" +
			"none having its own inferred from its own flows (so every node of a cluster\n" +
			"keeps its address). A file given twice, or two files of the same capture (same\n" +
			"node and start), is refused. docs/session.md describes the session format.\n" +
			"Exit status as for replay.",
		Example: "  flowaudit report gw1.session.json\n" +
			"  flowaudit report -p mailcleaner --with cluster -f json -o cluster.json gw1.session.json gw2.session.json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("report: no session file given (flowaudit report SESSION...)")
			}
			if err := f.checkSessionArgs(args); err != nil {
				return err
			}
			ins, cleanup, err := a.spooledInputs(args, a.sessionLimit(), "session")
			defer cleanup()
			if err != nil {
				return sizeHint(err)
			}
			rs, err := a.openSessions(inputPaths(ins))
			if err != nil {
				return err
			}
			defer closeSessions(rs)
			opts, failOn, from, err := a.reportOptions(&f, rs)
			if err != nil {
				return err
			}
			rep, err := a.auditOpened(rs, opts)
			if err != nil {
				return err
			}
			rep.Recorded = from
			return a.writeFindings(rep, failOn, &f)
		},
	}
	f.register(cmd)
	a.addMaxInputFlag(cmd.Flags())
	// auditFlags' --host text describes replay's default; report's differs.
	cmd.Flags().Lookup("host").Usage = reportHostUsage
	cmd.Flags().Lookup("product").Usage = "product `P` to audit against (repeatable or comma-separated); default: the products the sessions recorded"
	return cmd
}

// reportHostUsage is report's --host help.
const reportHostUsage = "gateway address `ADDR` (repeatable); overrides the site file and the sessions. " +
	"Default: the site file's hosts, else the union of the sessions' recorded hosts, " +
	"inferred per session from its own flows for a session that recorded none"

// sessionLimit is the bound on a session: --max-input-size, else the
// session package's default.
func (a *app) sessionLimit() int64 {
	if a.maxInput > 0 {
		return int64(a.maxInput)
	}
	return session.MaxFileSize
}

// openSessions opens the sessions at paths, named by names in messages,
// for one report (their flows are read later, as the audit goes).
func (a *app) openSessions(paths, names []string) ([]*session.Reader, error) {
	rs, err := session.OpenAllNamed(int64(a.maxInput), paths, names)
	if err != nil {
		return nil, sizeHint(err)
	}
	return rs, nil
}

func closeSessions(rs []*session.Reader) {
	for _, r := range rs {
		r.Close()
	}
}

// auditSessions opens the sessions at paths and audits them as one merged
// report with opts (diff uses it; report resolves its options from the
// sessions first).
func (a *app) auditSessions(paths, names []string, opts analyze.Options) (*analyze.Report, error) {
	rs, err := a.openSessions(paths, names)
	if err != nil {
		return nil, err
	}
	defer closeSessions(rs)
	return a.auditOpened(rs, opts)
}

// auditOpened streams the flows of the sessions rs into one audit: no
// session is held in memory. The gateway addresses are analyze's
// decision (ResolveHosts): opts' (--host, the site file), else the
// sessions', inferred from a session's own flows, in a first read of
// them, when it recorded none.
func (a *app) auditOpened(rs []*session.Reader, opts analyze.Options) (*analyze.Report, error) {
	srcs := make([]session.Source, len(rs))
	for i, r := range rs {
		srcs[i] = r
	}
	m := session.Merge(srcs...)
	in := analyze.HostsInput{Flag: opts.Hosts, Site: opts.Site, SiteFile: opts.SiteFile}
	for i, r := range rs {
		in.Sessions = append(in.Sessions, analyze.SessionInput{Node: m.Nodes()[i], Recorded: r.Info().Hosts, Flows: r.Flows()})
	}
	opts.Gateway = analyze.ResolveHosts(in)
	for _, r := range rs {
		if err := r.Err(); err != nil { // met while inferring
			return nil, err
		}
	}
	aud, err := analyze.NewAuditor(opts)
	if err != nil {
		return nil, err
	}
	for f := range m.Flows() {
		aud.Add(f)
	}
	if err := m.Err(); err != nil {
		return nil, err
	}
	stats := m.Stats()
	for _, w := range stats.Warnings {
		a.log.Warn("session: " + w)
	}
	return aud.Report(stats), nil
}

// sessionFlags are --session and --node for commands that can save what
// they read (replay; capture has its own).
type sessionFlags struct {
	path, node string
}

func (s *sessionFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.path, "session", "", "also save the flows as a session `FILE` for `flowaudit report` (written atomically)")
	cmd.Flags().StringVar(&s.node, "node", "", "gateway name recorded in the session (default: the host name)")
}
