package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/analyze/render"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// reportFormats maps each --format name to its renderer. Renderers write
// the whole report to w and return the first write error; opts carries
// --all (the width and colour are the table's own).
var reportFormats = map[string]func(w io.Writer, rep *analyze.Report, opts render.Options) error{
	"json":     writeReportJSON,
	"table":    writeReportTable,
	"markdown": render.Markdown,
	"html":     writeReportHTML,
	"auto":     writeReportAuto,
}

// defaultReportFormat is used when --format is not given: "auto", the
// format the --output extension picks (resolveFormat), else the table.
var defaultReportFormat = "auto"

// isTerminal reports whether w is a terminal (and so may get colours and
// the table by default).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// defaultTableWidth is the table's width when neither the output (not a
// terminal) nor COLUMNS says: a file or a pipe read by a person in an
// editor, a pager or a ticket, where 100 columns fit.
const defaultTableWidth = 100

// tableWidth is the width the table fits: the terminal's when w is one,
// else the COLUMNS environment variable (export COLUMNS=250 for wide
// tables in a file), else defaultTableWidth.
func tableWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if cols, err := strconv.Atoi(strings.TrimSpace(os.Getenv("COLUMNS"))); err == nil && cols > 0 {
		return cols
	}
	return defaultTableWidth
}

// writeReportTable writes the terminal table, as wide as tableWidth,
// coloured only when w is a terminal and NO_COLOR is unset: files and
// pipes never get escape codes.
func writeReportTable(w io.Writer, rep *analyze.Report, opts render.Options) error {
	opts.Color = useColor(w)
	opts.Width = tableWidth(w)
	return render.Table(w, rep, opts)
}

// writeReportHTML writes the HTML page, stamped with the time it was
// generated (its title names it): a page is a document sent and kept,
// unlike the other formats, which stay byte-identical for one capture.
func writeReportHTML(w io.Writer, rep *analyze.Report, opts render.Options) error {
	if rep.Generated.IsZero() {
		r := *rep
		r.Generated = time.Now().UTC().Truncate(time.Second)
		rep = &r
	}
	return render.HTML(w, rep, opts)
}

// writeReportAuto writes the table: what a person reading the output
// expects, on a terminal or through a pager. Tools ask for --format json.
func writeReportAuto(w io.Writer, rep *analyze.Report, opts render.Options) error {
	return writeReportTable(w, rep, opts)
}

// reportFormatNames lists the formats for help texts and errors.
func reportFormatNames() string {
	names := make([]string, 0, len(reportFormats))
	for n := range reportFormats {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, "|")
}

// writeReport renders rep in format (resolved: resolveFormat) to output:
// stdout when output is "" or "-", otherwise a file written atomically
// (temporary file, then rename), so a crash never leaves half a report,
// and announced on stderr with the report's findings.
func writeReport(a *app, rep *analyze.Report, format, output string, opts render.Options) error {
	formats := make(map[string]func(io.Writer, *analyze.Report) error, len(reportFormats))
	for name, r := range reportFormats {
		formats[name] = func(w io.Writer, rep *analyze.Report) error { return r(w, rep, opts) }
	}
	return writeRendered(a, rep, formats, format, output, findingsLine(rep.Summary))
}

// findingsLine says what a report written to a file holds: its findings
// in the order of urgency the report lists them, "6 blocked, 1 partial,
// 2 unexpected", or "no findings".
func findingsLine(s analyze.Summary) string {
	var parts []string
	for _, x := range []struct {
		n    int
		what string
	}{{s.Blocked, "blocked"}, {s.Partial, "partial"}, {s.Unexpected, "unexpected"},
		{s.Inconclusive, "inconclusive"}, {s.NeverSeen, "never seen"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	if len(parts) == 0 {
		return "no findings"
	}
	return strings.Join(parts, ", ")
}

// writeRendered is writeReport for any document with renderers of the
// same format names (the report's, the diff's); format is resolved
// already, and summary announces a file written.
func writeRendered[T any](a *app, doc T, formats map[string]func(io.Writer, T) error, format, output, summary string) error {
	render, ok := formats[format]
	if !ok {
		return fmt.Errorf("unknown report format %q (want %s)", format, reportFormatNames())
	}
	if output == "" || output == "-" {
		return render(a.stdout, doc)
	}
	err := atomicfile.WriteFile(output, func(f *os.File) error { return render(f, doc) })
	if err != nil && render(a.stdout, doc) == nil {
		// A full disk at the end of a maintenance window must not cost
		// the results: they go to stdout, and the error says so.
		return fmt.Errorf("%w (the report was written to stdout instead)", err)
	}
	if err == nil {
		a.announce(output, summary)
	}
	return err
}

// writeReportJSON writes the report as indented JSON (schema
// flowaudit.report/v1, docs/report.md) with a final newline.
func writeReportJSON(w io.Writer, rep *analyze.Report, _ render.Options) error {
	return writeJSON(w, rep, "encode report")
}

// writeJSON writes v as indented JSON with a final newline. Characters
// encoding/json leaves raw in strings (DEL, C1 controls, bidi and format
// characters) are written as \u escapes (escape.JSON): JSON printed on a
// terminal cannot drive it or read backwards, and decodes the same.
func writeJSON(w io.Writer, v any, what string) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	_, err = io.WriteString(w, escape.JSON(string(b))+"\n")
	return err
}
