package main

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/text"
)

func init() { subcommands = append(subcommands, newReportCmd) }

func newReportCmd(a *app) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "report [flags] SESSION...",
		Short: "Rebuild a report offline from saved sessions (several: one merged report)",
		Long: "report audits the flows saved by `capture --session` or `replay --session` again,\n" +
			"against any products, site file and features, without the packets. Several\n" +
			"sessions (the gateways of a cluster, or several runs) are merged into one report\n" +
			"whose requirements and unexpected flows name the nodes that saw them.\n" +
			"The gateway addresses come from --host, else the site file, else the sessions:\n" +
			"the union of the addresses each session recorded, each session that recorded\n" +
			"none having its own inferred from its own flows (so every node of a cluster\n" +
			"keeps its address). A file given twice, or two files of the same capture (same\n" +
			"node and start), is refused. docs/session.md describes the session format.\n" +
			"Exit status as for replay.",
		Example: "  flowaudit report --product mailcleaner gw1.session.json\n" +
			"  flowaudit report -p mailcleaner --with cluster -f json -o cluster.json gw1.session.json gw2.session.json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("report: no session file given (flowaudit report --product P SESSION...)")
			}
			opts, failOn, err := f.resolve(a)
			if err != nil {
				return err
			}
			if _, ok := reportFormats[f.format]; !ok {
				return fmt.Errorf("unknown report format %q (want %s)", f.format, reportFormatNames())
			}
			if err := checkOutputs(append(f.inputFiles(), args...), output{"--output", f.output}); err != nil {
				return err
			}
			rep, err := a.auditSessions(args, opts)
			if err != nil {
				return err
			}
			return a.writeFindings(rep, failOn, &f)
		},
	}
	f.register(cmd)
	a.addMaxInputFlag(cmd.Flags())
	// auditFlags' --host text describes replay's default; report's differs.
	cmd.Flags().Lookup("host").Usage = reportHostUsage
	return cmd
}

// auditSessions loads the sessions at paths and audits them as one merged
// report (report and diff use it): the gateway addresses come from opts,
// else from the sessions (see reportHosts).
func (a *app) auditSessions(paths []string, opts analyze.Options) (*analyze.Report, error) {
	sessions, err := session.LoadAllLimit(int64(a.maxInput), paths...)
	if err != nil {
		return nil, sizeHint(err)
	}
	res := session.Merge(sessions...)
	for _, w := range res.Stats.Warnings {
		a.log.Warn("session: " + w)
	}
	var inferred []session.HostsOf
	if len(opts.Hosts) == 0 && (opts.Site == nil || len(opts.Site.Hosts) == 0) {
		if opts.Hosts, opts.HostsHow, inferred, err = reportHosts(sessions, opts.Products); err != nil {
			return nil, err
		}
	}
	rep, err := analyze.Audit(res, opts)
	if err != nil {
		return nil, err
	}
	if len(inferred) > 0 {
		rep.Hosts.Inferred = true
		var ws []string
		for _, h := range inferred {
			ws = append(ws, fmt.Sprintf("gateway addresses of %s were inferred from its own flows (%s): give --host or a site file to be sure",
				h.Node, cmp.Or(text.Addrs(h.Addrs), "none found")))
		}
		rep.Warnings = append(ws, rep.Warnings...)
	}
	return rep, nil
}

// reportHostUsage is report's --host help.
const reportHostUsage = "gateway address `ADDR` (repeatable); overrides the site file and the sessions. " +
	"Default: the site file's hosts, else the union of the sessions' recorded hosts, " +
	"inferred per session from its own flows for a session that recorded none"

// reportHosts are the gateway addresses of a report over sessions when
// neither --host nor the site file gives them, how they were found, and
// the sessions whose addresses were inferred. One session that recorded
// none is left to the audit's own inference (nil addresses), so its
// report is replay's. Several: each session keeps the addresses it
// recorded, or has its own inferred from its own flows, and the report
// uses their union, so two nodes of a cluster are both audited.
func reportHosts(sessions []*session.Session, products []*catalog.Product) ([]netip.Addr, string, []session.HostsOf, error) {
	if len(sessions) == 1 && len(sessions[0].Hosts) == 0 {
		return nil, "", nil, nil
	}
	infer := func(s *session.Session) ([]netip.Addr, string, error) {
		rep, err := analyze.Audit(s.Result(), analyze.Options{Products: products})
		if err != nil {
			return nil, "", err
		}
		return rep.Hosts.Addrs, inferredHow(rep.Hosts.How), nil
	}
	// Addresses a recorder inferred are described as those inferred here.
	described := make([]*session.Session, len(sessions))
	for i, s := range sessions {
		described[i] = s
		if strings.HasPrefix(s.HostsHow, "inferred from the traffic") {
			c := *s
			c.HostsHow = inferredHow(s.HostsHow)
			described[i] = &c
		}
	}
	r, err := session.ResolveHosts(infer, described...)
	if err != nil || len(r.Addrs) == 0 {
		return nil, "", nil, err
	}
	how := r.How
	if len(sessions) == 1 {
		how = "session: " + r.Sessions[0].How
	}
	return r.Addrs, how, r.Inferred(), nil
}

// inferredHow shortens the audit's "inferred from the traffic (the
// address taking part in most flows): A in N of M IPv4 flows; ..." to
// "inferred from its own flows: A in N of M IPv4 flows, ...", which reads
// inside the per-session list ResolveHosts builds.
func inferredHow(how string) string {
	detail := how
	if _, after, ok := strings.Cut(how, "): "); ok && strings.HasPrefix(how, "inferred from the traffic (") {
		detail = after
	} else if after, ok := strings.CutPrefix(how, "inferred from the traffic: "); ok {
		detail = after
	}
	return "inferred from its own flows: " + strings.ReplaceAll(detail, "; ", ", ")
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

// save writes res as a session when --session was given. Its span is the
// capture's first to last packet.
func (s *sessionFlags) save(res *capture.Result, opts analyze.Options, siteFile string) error {
	if s.path == "" {
		return nil
	}
	node := s.node
	if node == "" {
		node, _ = os.Hostname()
	}
	sess := session.New(res, node, version, res.Stats.Start, res.Stats.End)
	sess.Hosts, sess.HostsHow = sessionHosts(opts, siteFile)
	// replay hands over the addresses its audit inferred with the audit's
	// own description; the flag lets a merged report say so.
	sess.HostsInferred = strings.HasPrefix(sess.HostsHow, "inferred")
	return session.Save(s.path, sess)
}
