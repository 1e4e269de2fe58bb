package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/analyze/render"
	"github.com/flowaudit/flowaudit/capture/session"
	"github.com/flowaudit/flowaudit/catalog"
)

func init() { subcommands = append(subcommands, newDiffCmd) }

// diffFormats maps each --format name to the diff's renderer; the names
// are the report's, so -o picks the format from the extension the same
// way (writeRendered).
var diffFormats = map[string]func(io.Writer, *analyze.Diff) error{
	"json":     writeDiffJSON,
	"table":    writeDiffTable,
	"markdown": render.DiffMarkdown,
	"html":     render.DiffHTML,
	"auto":     writeDiffTable,
}

// auditFlagNames are the flags that say how a session is audited: with
// two reports (audited already) they would do nothing.
var auditFlagNames = []string{"product", "host", "site", "with", "without", "catalog"}

const diffFailOnDefault = "newly-failing,newly-unexpected"

func newDiffCmd(a *app) *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] BEFORE AFTER",
		Short: "Compare two audits, before and after a change: what it fixed, what it broke, what still fails",
		Long: "diff compares two audits of one gateway, typically a capture before and one after a firewall\n" +
			"change. BEFORE and AFTER are each a JSON report (-f json) or a session (--session of replay or\n" +
			"capture), in any combination; sessions are audited for the diff with the audit flags (-p,\n" +
			"--host, --site, --with, --catalog...), the same for both. It lists what is newly failing,\n" +
			"newly unexpected, still failing (with the reason before and after), no longer seen, fixed,\n" +
			"gone unexpected and never seen in either; docs/report.md gives the exact rules.\n\n" +
			"Exit status: 1 when the diff has what --fail-on lists (by default the regressions: newly\n" +
			"failing, newly unexpected), 0 otherwise, 2 for usage or input errors.",
		Example: "  flowaudit diff before.json after.json\n" +
			"  flowaudit diff -p mailcleaner --host 192.0.2.10 before.session after.session -f markdown -o change.md\n" +
			"  flowaudit diff --fail-on newly-failing,newly-unexpected,still-failing before.json after.session -p mailcleaner",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDiff(cmd, &f, args)
		},
	}
	f.register(cmd)
	a.addMaxInputFlag(cmd.Flags())
	fl := cmd.Flags()
	fo := fl.Lookup("fail-on")
	fo.DefValue, f.failOn = diffFailOnDefault, diffFailOnDefault
	fo.Usage = "diff `CATEGORIES` that make the exit status 1 (comma-separated: " + diffCategoryNames() + "; \"none\" for never)"
	fl.Lookup("output").Usage = "write the diff to `FILE` (atomically) instead of stdout; the extension picks the format"
	fl.Lookup("format").Usage = "diff `FORMAT`: " + reportFormatNames()
	fl.Lookup("product").Usage = "product `P` to audit sessions against (repeatable or comma-separated); not for reports, audited already"
	fl.Lookup("host").Usage = reportHostUsage
	fl.Lookup("max-input-size").Usage = fmt.Sprintf("largest catalog, site, session or JSON report `SIZE` to read (e.g. 16MiB, 2GiB; default: %s for catalog and site files, %s for sessions, %s for reports)",
		sizeName(catalog.MaxFileSize), sizeName(session.MaxFileSize), sizeName(maxReportFile))
	return cmd
}

// runDiff is diff's body: check the arguments, read both sides, compare,
// write, and turn what --fail-on lists into the exit status.
func (a *app) runDiff(cmd *cobra.Command, f *auditFlags, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("diff: want two files, BEFORE and AFTER (reports or sessions), got %d (flowaudit diff BEFORE AFTER)", len(args))
	}
	failOn, err := parseDiffFailOn(f.failOn)
	if err != nil {
		return err
	}
	if err := f.checkSessionArgs(args); err != nil {
		return err
	}
	limit := int64(a.maxInput)
	if limit <= 0 {
		limit = max(maxReportFile, session.MaxFileSize) // a report or a session: not known yet
	}
	ins, cleanup, err := a.spooledInputs(args, limit, "diff input")
	defer cleanup()
	if err != nil {
		return sizeHint(err)
	}
	kinds := make([]string, 2)
	for i, in := range ins {
		if kinds[i], err = diffKind(in.path, in.name); err != nil {
			return err
		}
	}
	if err := checkDiffFlags(cmd, ins, kinds); err != nil {
		return err
	}
	reps, err := a.diffSides(f, ins, kinds)
	if err != nil {
		return err
	}
	d := analyze.Compare(reps[0], reps[1])
	d.Tool = "flowaudit " + version
	d.Before.File, d.Before.Kind = ins[0].name, kinds[0]
	d.After.File, d.After.Kind = ins[1].name, kinds[1]
	// A file written is announced with the changes (stdout stays empty),
	// so that exit status 1 does not read as a crash.
	if err := writeRendered(a, d, diffFormats, f.format, f.output, d.Summary.Line()); err != nil {
		return err
	}
	if n := d.Regressions(failOn); n > 0 {
		return &findingsError{n: n}
	}
	return nil
}

// checkDiffFlags refuses audit flags when both inputs are reports: they
// were audited already, and a flag that silently did nothing would make
// the user believe the comparison used it.
func checkDiffFlags(cmd *cobra.Command, ins []inputFile, kinds []string) error {
	if kinds[0] == kindSession || kinds[1] == kindSession {
		return nil
	}
	for _, name := range auditFlagNames {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s audits sessions, but %s and %s are both reports, audited already: compare them without it, or give sessions", name, ins[0].name, ins[1].name)
		}
	}
	return nil
}

// diffSides reads both inputs as reports: a report as it is, a session
// audited with the audit flags (resolved once, the same for both).
func (a *app) diffSides(f *auditFlags, ins []inputFile, kinds []string) ([]*analyze.Report, error) {
	var opts analyze.Options
	resolved := false
	reps := make([]*analyze.Report, 2)
	for i, in := range ins {
		var err error
		if kinds[i] == kindReport {
			if reps[i], err = loadReport(in.path, in.name, int64(a.maxInput)); err != nil {
				return nil, err
			}
			continue
		}
		if !resolved {
			// resolve also parses --fail-on as report statuses; diff's
			// takes categories, parsed already.
			g := *f
			g.failOn = "none"
			if opts, _, err = g.resolve(a); err != nil {
				return nil, diffProductHint(err, f, ins, kinds, i)
			}
			resolved = true
		}
		if reps[i], err = a.auditSessions([]string{in.path}, []string{in.name}, opts); err != nil {
			return nil, err
		}
	}
	return reps, nil
}

// diffProductHint adds to "no product given" which session needs it and,
// when the other side is a report, the products that report used.
func diffProductHint(err error, f *auditFlags, ins []inputFile, kinds []string, i int) error {
	if len(f.products) > 0 {
		return err
	}
	other := 1 - i
	msg := fmt.Sprintf("session %s is audited for the diff: %v", ins[i].name, err)
	if kinds[other] == kindReport {
		if rep, rerr := loadReport(ins[other].path, ins[other].name, 0); rerr == nil {
			names := make([]string, len(rep.Products))
			for j, p := range rep.Products {
				names[j] = p.Name
			}
			msg += fmt.Sprintf(" (the report %s was audited against %s)", ins[other].name, strings.Join(names, ", "))
		}
	}
	return errors.New(msg)
}

// parseDiffFailOn reads diff's --fail-on: comma-separated categories, or
// "none".
func parseDiffFailOn(s string) ([]analyze.DiffCategory, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf(`--fail-on "": give categories (%s) or none`, diffCategoryNames())
	}
	var out []analyze.DiffCategory
	parts := strings.Split(s, ",")
	for _, part := range parts {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
			continue
		case part == "none" && len(parts) > 1:
			return nil, fmt.Errorf("--fail-on %q: \"none\" cannot be combined with categories", s)
		case part == "none":
			continue
		}
		c, ok := analyze.ParseDiffCategory(part)
		if !ok {
			return nil, fmt.Errorf("--fail-on %q: unknown category %q (want %s or none)", s, part, diffCategoryNames())
		}
		out = append(out, c)
	}
	return out, nil
}

func diffCategoryNames() string {
	names := make([]string, len(analyze.DiffCategories))
	for i, c := range analyze.DiffCategories {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// writeDiffTable writes the terminal table, coloured only on a terminal
// without NO_COLOR, as the report's table.
func writeDiffTable(w io.Writer, d *analyze.Diff) error {
	return render.DiffTable(w, d, render.Options{Color: useColor(w)})
}

// writeDiffJSON writes the diff as indented JSON (schema
// flowaudit.diff/v1, docs/report.md), escaped as the report's JSON.
func writeDiffJSON(w io.Writer, d *analyze.Diff) error {
	return writeJSON(w, d, "encode diff")
}
