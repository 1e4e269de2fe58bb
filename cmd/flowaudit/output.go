package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/analyze/render"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
	"github.com/flowaudit/flowaudit/internal/escape"
)

// reportFormats maps each --format name to its renderer. Renderers write
// the whole report to w and return the first write error.
var reportFormats = map[string]func(w io.Writer, rep *analyze.Report) error{
	"json":     writeReportJSON,
	"table":    writeReportTable,
	"markdown": render.Markdown,
	"html":     render.HTML,
	"auto":     writeReportAuto,
}

// defaultReportFormat is used when --format is not given: "auto" is chosen
// by the --output extension (.html, .md, .json, .txt), else the table.
var defaultReportFormat = "auto"

// autoFormats maps --output extensions to formats for --format auto.
var autoFormats = map[string]string{
	".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".txt": "table", ".json": "json",
}

// isTerminal reports whether w is a terminal (and so may get colours and
// the table by default).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// writeReportTable writes the terminal table, coloured only when w is a
// terminal and NO_COLOR is unset: files and pipes never get escape codes.
func writeReportTable(w io.Writer, rep *analyze.Report) error {
	return render.Table(w, rep, render.Options{Color: isTerminal(w) && os.Getenv("NO_COLOR") == ""})
}

// writeReportAuto writes the table: what a person reading the output
// expects, on a terminal or through a pager. Tools ask for --format json.
func writeReportAuto(w io.Writer, rep *analyze.Report) error {
	return writeReportTable(w, rep)
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

// writeReport renders rep in format to output: stdout when output is "" or
// "-", otherwise a file written atomically (temporary file, then rename),
// so a crash never leaves half a report.
func writeReport(a *app, rep *analyze.Report, format, output string) error {
	if format == "auto" && output != "" && output != "-" {
		if f, ok := autoFormats[strings.ToLower(filepath.Ext(output))]; ok {
			format = f
		}
	}
	render, ok := reportFormats[format]
	if !ok {
		return fmt.Errorf("unknown report format %q (want %s)", format, reportFormatNames())
	}
	if output == "" || output == "-" {
		return render(a.stdout, rep)
	}
	err := atomicfile.WriteFile(output, func(f *os.File) error { return render(f, rep) })
	if err != nil && render(a.stdout, rep) == nil {
		// A full disk at the end of a maintenance window must not cost
		// the results: they go to stdout, and the error says so.
		return fmt.Errorf("%w (the report was written to stdout instead)", err)
	}
	return err
}

// writeReportJSON writes the report as indented JSON (schema
// flowaudit.report/v1, docs/report.md) with a final newline.
func writeReportJSON(w io.Writer, rep *analyze.Report) error {
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
