package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/live"
	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/internal/escape"
	"github.com/flowaudit/flowaudit/internal/text"
)

func init() { subcommands = append(subcommands, newCaptureCmd) }

// captureFlags are the capture command's own flags; the audit flags are
// shared with replay and report.
type captureFlags struct {
	audit     auditFlags
	iface     string
	backend   string
	duration  time.Duration
	session   string
	writePcap string
	filter    string
	node      string
	live      bool
	maxFlows  int
	noSession bool
}

func newCaptureCmd(a *app) *cobra.Command {
	var f captureFlags
	cmd := &cobra.Command{
		Use:   "capture --iface IF --product P [flags]",
		Short: "Capture live traffic on the gateway and audit it when stopped",
		Long: "capture records the gateway's traffic on one interface, shows packets, flows,\n" +
			"drops and the requirement verdicts while it runs, and stops on --duration, Ctrl-C\n" +
			"(SIGINT) or SIGTERM: every flow is finished, the session and the report are\n" +
			"written, and the exit status follows the report as for replay. A second Ctrl-C\n" +
			"aborts at once (exit 130) without writing anything.\n\n" +
			"The session is always saved, for `flowaudit report`: to --session FILE, or else to\n" +
			"NODE-START.session.json in $FLOWAUDIT_STATE_DIR, /var/lib/flowaudit (root) or\n" +
			"$XDG_STATE_HOME/flowaudit (~/.local/state/flowaudit); --no-session opts out.\n\n" +
			"--backend auto uses eBPF (flows aggregated in the kernel, with the process behind\n" +
			"each connection) where the kernel can run it, else the AF_PACKET ring. It needs\n" +
			"root, or CAP_NET_RAW for AF_PACKET, CAP_BPF and CAP_NET_ADMIN for eBPF.\n" +
			"The gateway's addresses default to the interface's own. docs/live.md explains\n" +
			"the options.",
		Example: "  flowaudit capture --iface eth0 --product mailcleaner --duration 30m --session gw1.session.json -o report.json\n" +
			"  flowaudit capture --iface eth0 -p spamexperts --live --write-pcap window.pcapng --filter 'not port 22'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return a.runCapture(&f) },
	}
	f.audit.register(cmd)
	a.addMaxInputFlag(cmd.Flags())
	fl := cmd.Flags()
	fl.Lookup("host").Usage = "gateway address `ADDR` (repeatable); default: the site file's hosts, else the interface's own addresses"
	fl.StringVarP(&f.iface, "iface", "i", "", "capture on interface `IF` (required; any: every interface, with either backend)")
	fl.StringVar(&f.backend, "backend", "auto", "capture backend: ebpf, afpacket, or auto (eBPF when the kernel can run it and neither --filter nor --write-pcap is set)")
	fl.DurationVar(&f.duration, "duration", 0, "stop after `D` (e.g. 30m); default: run until Ctrl-C or SIGTERM")
	fl.StringVar(&f.session, "session", "", "save the session to `FILE` for `flowaudit report` (written atomically; default: a file in the state directory)")
	fl.BoolVar(&f.noSession, "no-session", false, "save no session")
	fl.StringVar(&f.writePcap, "write-pcap", "", "keep the raw packets in pcapng `FILE` (renamed into place when the capture stops)")
	fl.StringVar(&f.filter, "filter", "", "capture filter `EXPR` (tcpdump syntax, compiled with tcpdump -ddd; or tcpdump -ddd output)")
	fl.StringVar(&f.node, "node", "", "name of this gateway in the session and its default file name (default: the host name)")
	fl.BoolVar(&f.live, "live", false, "redraw the requirement table while capturing (terminal only)")
	fl.IntVar(&f.maxFlows, "max-flows", 0, "bound the flow table to `N` concurrent flows (0: the default, 131072 with afpacket, 65536 with ebpf)")
	return cmd
}

// runCapture captures on the interface until --duration, a signal or the
// end of the interface: live source -> Run -> the Auditor, the live view
// (and the flows kept for --session). Then the session and the report
// are written.
func (a *app) runCapture(f *captureFlags) error {
	opts, failOn, err := f.check(a)
	if err != nil {
		return err
	}
	// Without --host or site hosts, the gateway is the interface's
	// addresses: all of them seen while capturing, since addresses added
	// during the window (a second service address) carry its traffic too.
	var ifHosts *ifaceHosts
	if sessionHosts(opts).Origin == capture.OriginNone {
		ifHosts = &ifaceHosts{iface: f.iface, seen: map[netip.Addr]bool{}}
		if _, err := ifHosts.refresh(&opts); err != nil {
			return err
		}
	}
	aud, err := analyze.NewAuditor(opts)
	if err != nil {
		return err
	}
	if w := routeWarning(f.iface, &opts); w != "" {
		a.log.Warn(w)
	}
	st, sess, err := a.captureLive(f, &opts, aud, ifHosts)
	if err != nil {
		return err
	}
	// The window is the capture's, start to stop (capture.Stats), as
	// the report's capture line says, with packets or none.
	where := ""
	if sess != nil {
		where = "; session " + escape.Terminal(sess.path)
	}
	fmt.Fprintf(a.stderr, "flowaudit: capture stopped: %s in %s, %s, %d dropped by the kernel%s\n",
		text.Count(st.Packets, "packet", "packets"), st.End.Sub(st.Start).Truncate(time.Millisecond),
		text.Count(st.Flows, "flow", "flows"), st.KernelDrops, where)

	saveErr := sess.close(st, st.End, sessionHosts(opts))
	// The report is written even when the session could not be.
	err = a.writeFindings(aud.Report(st), failOn, &f.audit)
	return joinWriteErrors(err, saveErr)
}

// check refuses unusable flags with one line, before anything is opened
// (and not after an hour of capture when a file cannot be written), and
// returns the audit's options.
func (f *captureFlags) check(a *app) (analyze.Options, []analyze.Status, error) {
	var none analyze.Options
	if err := liveSupported(); err != nil {
		return none, nil, fmt.Errorf("capture: %w", err)
	}
	if f.iface == "" {
		return none, nil, errors.New("capture: no interface given (flowaudit capture --iface IF --product P)")
	}
	opts, failOn, err := f.audit.resolve(a)
	if err != nil {
		return none, nil, err
	}
	if f.duration < 0 {
		return none, nil, fmt.Errorf("--duration %v: want a positive duration (or none: until Ctrl-C)", f.duration)
	}
	if f.maxFlows < 0 {
		return none, nil, fmt.Errorf("--max-flows %d: want a positive number (or 0: the default)", f.maxFlows)
	}
	if f.noSession && f.session != "" {
		return none, nil, errors.New("--session and --no-session: give one")
	}
	if err := checkNode(f.node); err != nil {
		return none, nil, err
	}
	if err := checkOutputs(f.audit.inputFiles(), output{"--output", f.audit.output}, output{"--session", f.session}, output{"--write-pcap", f.writePcap}); err != nil {
		return none, nil, err
	}
	if err := f.audit.resolveFormat(); err != nil {
		return none, nil, err
	}
	if err := checkInterface(f.iface); err != nil {
		return none, nil, err
	}
	return opts, failOn, nil
}

// liveSource is what capture needs of a live source (*live.Source).
type liveSource interface {
	capture.Source
	Backend() string
	MaxFlows() int
	Close() error
}

// The live capture's entry points: capture/live's, replaced only in a
// test build (capture_testsource.go, build tag flowaudit_testsource) by
// a capture file played at a slow rate, for the tests that watch the live
// view in a terminal.
var (
	liveSupported  = live.Supported
	checkInterface = func(iface string) error { _, err := live.CheckInterface(iface); return err }
	openLive       = func(backend string, o capture.LiveOptions) (liveSource, error) {
		src, err := live.Open(backend, o)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
)

// captureLive runs the capture until --duration, a signal, or the end of
// the interface, showing progress, and returns its statistics: with a
// warning when it ended on an error. The error is only for a capture that
// could not start.
func (a *app) captureLive(f *captureFlags, opts *analyze.Options, aud *analyze.Auditor, ifHosts *ifaceHosts) (capture.Stats, *sessionSink, error) {
	// auto picks eBPF where the kernel can run it, else AF_PACKET: the
	// start message names the backend, so the choice is visible.
	src, err := openLive(f.backend, capture.LiveOptions{Iface: f.iface, WritePcap: f.writePcap, Filter: f.filter, MaxFlows: f.maxFlows})
	if errors.Is(err, live.ErrUnknownBackend) {
		return capture.Stats{}, nil, fmt.Errorf("--%w", err)
	}
	if err != nil {
		return capture.Stats{}, nil, err
	}
	defer src.Close() // Run releases it; this is for a panic before
	node := f.node
	if node == "" {
		node, _ = os.Hostname()
	}
	start := time.Now()
	sess, err := a.captureSession(f, func(path string) (*sessionSink, error) {
		return a.openSession(path, &f.audit, *opts, session.Header{Node: node, Iface: f.iface, Backend: src.Backend(), Start: start})
	}, node, start)
	if err != nil {
		return capture.Stats{}, nil, err
	}
	if !aud.KeepsFlows() {
		// Nothing held grows with the capture's length, only with the
		// backend's flow bound: the heap need not reach twice what is
		// live (streamHeapLimit). A session is written as flows end.
		setMemoryLimit(streamHeapLimit(src.MaxFlows()))
	}
	fmt.Fprintf(a.stderr, "flowaudit: capturing on %s (%s), gateway %s: stop with Ctrl-C\n",
		escape.Terminal(f.iface), src.Backend(), escape.Terminal(gatewayText(*opts)))
	view := newLiveView(newProgress(a.stderr, f.iface, f.live, time.Now()), aud, func() { ifHosts.addTo(opts, aud) })
	sink := capture.Tee(auditSink(aud), view, sess.sink())
	// --duration counts from here, once the backend is ready (loading
	// the eBPF programs takes a while): the window it gives is the
	// capture's.
	ctx, runStart := a.ctx, time.Now()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	st, runErr := capture.Run(ctx, src, sink, capture.Options{ProgressEvery: liveProgressEvery})
	// The source's window starts once it runs, a few ms after --duration
	// began: the window shown is the one the user asked for.
	st.SetWindow(runStart, time.Now())
	view.finish()
	ifHosts.addTo(opts, aud) // the interface may be gone: keep what was seen
	if runErr != nil {
		// The flows gathered so far are still reported.
		a.log.Warn("capture ended with an error: " + runErr.Error())
		st.Warnings = append(st.Warnings, "capture ended early: "+runErr.Error())
	}
	return st, sess, nil
}

// sessionHosts is what a session records as the gateway's addresses: the
// ones given, found on the interface, or the site file's (none: the
// report infers them again from the traffic).
func sessionHosts(opts analyze.Options) capture.HostsDecision {
	if opts.Gateway.Origin != capture.OriginNone {
		return opts.Gateway
	}
	return analyze.ResolveHosts(analyze.HostsInput{Flag: opts.Hosts, Site: opts.Site, SiteFile: opts.SiteFile})
}

// gatewayText describes the gateway addresses for the start message
// (separated by blanks, not commas, unlike the report).
func gatewayText(opts analyze.Options) string {
	d := sessionHosts(opts)
	if len(d.Addrs) == 0 {
		return "addresses inferred from the traffic"
	}
	s := ""
	for i, h := range d.Addrs {
		if i > 0 {
			s += " "
		}
		s += h.String()
	}
	return s + " (" + analyze.HostsHow(&d, analyze.HowShort) + ")"
}

// ifaceHosts accumulates the capture interface's addresses.
type ifaceHosts struct {
	iface string
	seen  map[netip.Addr]bool
	addrs []netip.Addr
}

// refresh adds the interface's current addresses to those seen, makes
// them opts' gateway addresses, and returns those it had not seen.
func (h *ifaceHosts) refresh(opts *analyze.Options) ([]netip.Addr, error) {
	addrs, err := live.InterfaceAddrs(h.iface)
	if err != nil {
		return nil, err
	}
	var added []netip.Addr
	for _, ad := range addrs {
		if !h.seen[ad] {
			h.seen[ad] = true
			h.addrs = append(h.addrs, ad)
			added = append(added, ad)
		}
	}
	opts.Gateway = analyze.ResolveHosts(analyze.HostsInput{Flag: opts.Hosts, Site: opts.Site, SiteFile: opts.SiteFile,
		Iface: h.iface, IfaceAddrs: h.addrs})
	return added, nil
}

// addTo refreshes the addresses (h may be nil: hosts were given) and
// hands new ones to the Auditor, for the flows it gets from now on. An
// interface gone keeps what was seen.
func (h *ifaceHosts) addTo(opts *analyze.Options, aud *analyze.Auditor) {
	if h == nil {
		return
	}
	if added, err := h.refresh(opts); err == nil && len(added) > 0 {
		aud.AddHosts(opts.Gateway)
	}
}
