package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/session"
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
			"The gateway addresses come from --host, else the site file, else the sessions.\n" +
			"docs/session.md describes the session format. Exit status as for replay.",
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
			sessions := make([]*session.Session, 0, len(args))
			for _, path := range args {
				s, err := session.Load(path)
				if err != nil {
					return err
				}
				sessions = append(sessions, s)
			}
			res := session.Merge(sessions...)
			for _, w := range res.Stats.Warnings {
				a.log.Warn("session: " + w)
			}
			if len(opts.Hosts) == 0 && (opts.Site == nil || len(opts.Site.Hosts) == 0) {
				if hosts, how := session.Hosts(sessions...); len(hosts) > 0 {
					opts.Hosts = hosts
					opts.HostsHow = "session: " + how
					if how == "" {
						opts.HostsHow = "session"
					}
				}
			}
			return a.auditAndWrite(res, opts, failOn, f.format, f.output)
		},
	}
	f.register(cmd)
	return cmd
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
	return session.Save(s.path, sess)
}
