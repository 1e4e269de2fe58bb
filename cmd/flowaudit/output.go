package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture"
)

// reportFormats maps each --format name to its renderer. Renderers write
// the whole report to w and return the first write error.
var reportFormats = map[string]func(w io.Writer, rep *analyze.Report) error{
	"json": writeReportJSON,
}

// defaultReportFormat is used when --format is not given.
var defaultReportFormat = "json"

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
	render, ok := reportFormats[format]
	if !ok {
		return fmt.Errorf("unknown report format %q (want %s)", format, reportFormatNames())
	}
	if output == "" || output == "-" {
		return render(a.stdout, rep)
	}
	return capture.WriteFileAtomic(output, func(f *os.File) error { return render(f, rep) })
}

// writeReportJSON writes the report as indented JSON (schema
// flowaudit.report/v1, docs/report.md) with a final newline.
func writeReportJSON(w io.Writer, rep *analyze.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
