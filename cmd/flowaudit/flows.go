package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
	"github.com/flowaudit/flowaudit/internal/escape"
	"github.com/flowaudit/flowaudit/internal/text"
)

func init() { subcommands = append(subcommands, newFlowsCmd) }

// flowsFlags are flows' flags.
type flowsFlags struct {
	format, output         string
	hosts, ports, outcomes []string
	maxFlows               int
	filter                 flowFilter
}

func newFlowsCmd(a *app) *cobra.Command {
	var f flowsFlags
	cmd := &cobra.Command{
		Use:   "flows [--format table|json|zeek] [-o FILE] [--host ADDR|CIDR] [--port N] [--outcome O] FILE...",
		Short: "List the flows rebuilt from capture files, with their outcome",
		Long: "flows rebuilds the bidirectional flows of one or more pcap/pcapng files (gzip\n" +
			"allowed, merged in time order; - reads standard input) and prints each with Zeek's\n" +
			"conn_state and history and its outcome: established, rejected, unreachable (with\n" +
			"the ICMP error), unanswered or unknown; ICMP control messages (IPv6 neighbour and\n" +
			"multicast listener discovery, router discovery) read housekeeping. Times are UTC.\n" +
			"--host, --port and --outcome (each repeatable) keep the flows that match, in every\n" +
			"format. --format zeek writes Zeek's conn.log TSV, for diffing against Zeek and for\n" +
			"tools that read conn.log; -o FILE picks the format by its extension (.txt, .json,\n" +
			".log or .tsv). docs/flows.md explains the fields.\n\n" +
			"Exit status: 0 when every file was read, 2 for usage or input errors, 130 when\n" +
			"Ctrl-C (143 when SIGTERM) stopped reading (what was read is written; a second\n" +
			"signal aborts).",
		Example: "  flowaudit flows gateway.pcap\n" +
			"  flowaudit flows --host 198.51.100.0/24 --outcome rejected --outcome unanswered gateway.pcap\n" +
			"  flowaudit flows -o conn.log day1.pcapng day2.pcapng",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(args); err != nil {
				return err
			}
			return a.runFlows(&f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.format, "format", "f", "", "output `FORMAT`: table (the default), json or zeek (conn.log TSV); -o FILE.txt, .json, .log or .tsv picks it")
	fl.StringVarP(&f.output, "output", "o", "", "write to `FILE` (atomically) instead of stdout")
	fl.StringArrayVar(&f.hosts, "host", nil, "keep flows with an endpoint in `ADDR|CIDR` (repeatable)")
	fl.StringArrayVar(&f.ports, "port", nil, "keep TCP and UDP flows with either port `N` (repeatable)")
	fl.StringSliceVar(&f.outcomes, "outcome", nil, "keep flows with outcome `O`: "+strings.Join(flowOutcomes, ", ")+" (repeatable or comma-separated)")
	fl.IntVar(&f.maxFlows, "max-flows", 0,
		"bound on concurrent flows; the longest idle are finished early when it is reached (0: the default, 262144)")
	return cmd
}

// check refuses unusable flags and arguments with one line before
// anything is read, and resolves the format and the filters.
func (f *flowsFlags) check(args []string) error {
	if len(args) == 0 {
		return errors.New("flows: no capture file given (flowaudit flows FILE...)")
	}
	if err := checkInputs(args); err != nil {
		return err
	}
	if f.maxFlows < 0 {
		return fmt.Errorf("--max-flows %d: want a positive number (or 0: the default)", f.maxFlows)
	}
	if err := checkOutputs(args, output{"--output", f.output}); err != nil {
		return err
	}
	format, err := resolveFormat(flowsFileFormats, "flows ", f.format, "table", f.output)
	if err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	f.format = format
	f.filter, err = parseFlowFilter(f.hosts, f.ports, f.outcomes)
	return err
}

// runFlows writes the flows of the captures args as f says, to stdout or
// a file written atomically and announced with its number of flows.
func (a *app) runFlows(f *flowsFlags, args []string) error {
	var shown int
	write := func(w io.Writer) (err error) {
		if f.format == "zeek" {
			shown, err = a.flowsZeek(w, args, f.maxFlows, &f.filter)
			return err
		}
		res, err := a.collectFlows(args, f.maxFlows, &f.filter)
		if err != nil {
			return err
		}
		shown = len(res.Flows)
		if f.format == "json" {
			return writeJSON(w, toFlowsJSON(res), "encode flows")
		}
		return writeFlowsTable(w, res, f.filter.active())
	}
	if f.output == "" || f.output == "-" {
		return a.interrupted(write(a.stdout))
	}
	if err := atomicfile.WriteFile(f.output, func(file *os.File) error { return write(file) }); err != nil {
		return a.interrupted(err)
	}
	a.announce(f.output, text.Count(shown, "flow", "flows"))
	return a.interrupted(nil)
}

// collectFlows replays the files and keeps every flow the filter matches,
// sorted by start: the table and JSON formats list them all.
func (a *app) collectFlows(args []string, maxFlows int, ff *flowFilter) (*capture.Result, error) {
	var c capture.Collector
	st, err := a.replayFiles(args, maxFlows, &c, false)
	if err != nil {
		return nil, err
	}
	res := c.Result(st)
	res.Flows = slices.DeleteFunc(res.Flows, func(fl flow.Flow) bool { return !ff.match(&fl) })
	sort.SliceStable(res.Flows, func(i, j int) bool { return res.Flows[i].Start.Before(res.Flows[j].Start) })
	return res, nil
}

// flowsZeek streams the flows the filter matches as conn.log lines as they
// finish, so memory stays flat however long the capture, and returns how
// many it wrote.
func (a *app) flowsZeek(w io.Writer, args []string, maxFlows int, ff *flowFilter) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	zw := &zeekWriter{w: bw}
	zw.header(time.Now())
	n := 0
	sink := capture.SinkFuncs{OnFlow: func(fl *flow.Flow) {
		if ff.match(fl) {
			zw.flow(fl)
			n++
		}
	}}
	if _, err := a.replayFiles(args, maxFlows, sink, w == a.stdout); err != nil {
		return n, err
	}
	zw.close(time.Now())
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write conn.log: %w", err)
	}
	return n, nil
}

// zeekFields are the conn.log columns written: Zeek's own first, then
// flowaudit's additions (Zeek readers such as zeek-cut take any column set).
var zeekFields = []struct{ name, typ string }{
	{"ts", "time"}, {"uid", "string"}, {"id.orig_h", "addr"}, {"id.orig_p", "port"},
	{"id.resp_h", "addr"}, {"id.resp_p", "port"}, {"proto", "enum"}, {"duration", "interval"},
	{"orig_bytes", "count"}, {"resp_bytes", "count"}, {"conn_state", "string"},
	{"missed_bytes", "count"}, {"history", "string"}, {"orig_pkts", "count"}, {"resp_pkts", "count"},
	{"outcome", "string"}, {"attempts", "count"}, {"icmp_reason", "string"}, {"server_name", "string"},
}

// zeekWriter writes Zeek's ASCII log format for conn.log.
type zeekWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (z *zeekWriter) header(now time.Time) {
	names := make([]string, len(zeekFields))
	types := make([]string, len(zeekFields))
	for i, f := range zeekFields {
		names[i], types[i] = f.name, f.typ
	}
	fmt.Fprintf(z.w, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n")
	fmt.Fprintf(z.w, "#open\t%s\n", now.UTC().Format("2006-01-02-15-04-05"))
	fmt.Fprintf(z.w, "#fields\t%s\n#types\t%s\n", strings.Join(names, "\t"), strings.Join(types, "\t"))
}

func (z *zeekWriter) close(now time.Time) {
	fmt.Fprintf(z.w, "#close\t%s\n", now.UTC().Format("2006-01-02-15-04-05"))
}

// zeekProto is conn.log's proto column.
func zeekProto(p uint8) string {
	switch p {
	case flow.ProtoTCP:
		return "tcp"
	case flow.ProtoUDP:
		return "udp"
	case flow.ProtoICMP, flow.ProtoICMPv6:
		return "icmp"
	}
	return "unknown_transport"
}

// zeekTime formats Unix nanoseconds as Zeek does: seconds with 6 decimals.
func zeekTime(b []byte, ns int64) []byte {
	b = strconv.AppendInt(b, ns/1e9, 10)
	b = append(b, '.')
	us := (ns % 1e9) / 1e3
	var tmp [8]byte // on the stack: a row allocates nothing
	s := strconv.AppendInt(tmp[:0], us+1e6, 10)
	return append(b, s[1:]...)
}

// flow writes one conn.log line. As in Zeek, duration and byte counts are
// unset ("-") when the flow lasted no time. It appends to a reused buffer
// and allocates nothing.
func (z *zeekWriter) flow(f *flow.Flow) {
	const tab = '\t'
	b := zeekTime(z.buf[:0], f.Start.UnixNano())
	b = append(b, tab)
	b = zeekField(b, f.UID)
	b = append(f.Orig.Addr().AppendTo(b), tab)
	b = append(strconv.AppendUint(b, uint64(f.Orig.Port()), 10), tab)
	b = append(f.Resp.Addr().AppendTo(b), tab)
	b = append(strconv.AppendUint(b, uint64(f.Resp.Port()), 10), tab)
	b = zeekField(b, zeekProto(f.Proto))
	if d := f.Duration(); d > 0 {
		b = append(zeekTime(b, int64(d)), tab)
		b = append(strconv.AppendUint(b, f.OrigBytes, 10), tab)
		b = append(strconv.AppendUint(b, f.RespBytes, 10), tab)
	} else {
		b = append(b, "-\t-\t-\t"...)
	}
	b = zeekField(b, string(f.State))
	b = append(strconv.AppendUint(b, f.MissedBytes, 10), tab)
	b = zeekField(b, f.History)
	b = append(strconv.AppendUint(b, f.OrigPkts, 10), tab)
	b = append(strconv.AppendUint(b, f.RespPkts, 10), tab)
	b = zeekField(b, string(f.Outcome))
	b = append(strconv.AppendInt(b, int64(f.Attempts), 10), tab)
	reason := ""
	if f.ICMP != nil {
		reason = f.ICMP.Reason
	}
	b = zeekField(b, reason)
	// The name comes from the traffic: escape.Zeek writes a tab, newline,
	// control or bidi character as \xHH, so it cannot split the row.
	b = append(b, dash(escape.Zeek(f.ServerName))...)
	b = append(b, '\n')
	z.w.Write(b)
	z.buf = b
}

// zeekField appends s, or "-" for an empty s (Zeek's unset field), and the
// tab that ends the field.
func zeekField(b []byte, s string) []byte {
	if s == "" {
		s = "-"
	}
	return append(append(b, s...), '\t')
}

// writeFlowsTable prints one row per flow and a summary of the capture;
// filtered says the rows are those the filters matched.
func writeFlowsTable(w io.Writer, res *capture.Result, filtered bool) error {
	header := []string{"START (UTC)", "PROTO", "ORIG", "RESP", "STATE", "HISTORY", "OUTCOME", "PKTS O/R", "BYTES O/R", "DETAIL"}
	rows := make([][]string, 0, len(res.Flows))
	for i := range res.Flows {
		f := &res.Flows[i]
		rows = append(rows, []string{
			tableTime(f.Start),
			protoName(f.Proto),
			endpoint(f, f.Orig),
			endpoint(f, f.Resp),
			string(f.State),
			dash(f.History),
			shownOutcome(f),
			fmt.Sprintf("%d/%d", f.OrigPkts, f.RespPkts),
			fmt.Sprintf("%d/%d", f.OrigBytes, f.RespBytes),
			flowDetail(f),
		})
	}
	if err := renderTable(w, false, header, rows); err != nil {
		return err
	}
	st := &res.Stats
	flows := text.Count(len(res.Flows), "flow", "flows")
	if filtered {
		flows = fmt.Sprintf("%d of %s match the filters", len(res.Flows), text.Count(int(st.Flows), "flow", "flows"))
	}
	if _, err := fmt.Fprintf(w, "%s, %s, %s; undecodable %d, interface drops %d, missed bytes %d, evicted %d\n",
		flows, text.Count(st.Packets, "packet", "packets"), text.Count(st.Bytes, "byte", "bytes"), st.Undecodable, st.IfaceDrops, st.MissedBytes, st.Evicted); err != nil {
		return err
	}
	if loss := st.LossSignals(); len(loss) > 0 {
		if _, err := fmt.Fprintf(w, "capture loss seen: %s\n", escape.Terminal(strings.Join(loss, "; "))); err != nil {
			return err
		}
	}
	return nil
}

// flowDetail says what the table's other columns do not: the ICMP error,
// retransmitted attempts, the responder's names and the server name asked
// for, and whether the flow was cut short.
func flowDetail(f *flow.Flow) string {
	var parts []string
	if l := icmpLabel(f); l != "" {
		parts = append(parts, l)
	}
	if f.ICMP != nil {
		parts = append(parts, fmt.Sprintf("icmp %s from %s", f.ICMP.Reason, f.ICMP.From))
	}
	if f.Attempts > 1 {
		parts = append(parts, fmt.Sprintf("%d attempts", f.Attempts))
	}
	if len(f.RespNames) > 0 {
		parts = append(parts, strings.Join(f.RespNames, ","))
	}
	// What the originator asked for is not a name of the responder unless
	// DNS says so (only the audit, knowing the gateway, counts it as one).
	if f.ServerName != "" && !slices.Contains(f.RespNames, f.ServerName) {
		parts = append(parts, "asked for "+f.ServerName)
	}
	if f.Open {
		parts = append(parts, "open at end")
	}
	if f.Evicted {
		parts = append(parts, "evicted")
	}
	if f.MissedBytes > 0 {
		parts = append(parts, fmt.Sprintf("missed %d bytes", f.MissedBytes))
	}
	return dash(strings.Join(parts, "; "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
