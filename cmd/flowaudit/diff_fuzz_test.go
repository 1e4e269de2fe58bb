package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/analyze/render"
)

// FuzzDiffReports feeds diff's input parsing (the kind sniffer and the
// report loader) two arbitrary files. Whatever they hold, diff gives an
// error or a diff that lists every requirement of either report once,
// and every format renders it.
func FuzzDiffReports(f *testing.F) {
	before, after := syntheticDiffReports()
	var b, a bytes.Buffer
	if err := writeReportJSON(&b, before, render.Options{}); err != nil {
		f.Fatal(err)
	}
	if err := writeReportJSON(&a, after, render.Options{}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes(), a.Bytes())
	f.Add(b.Bytes()[:b.Len()/3], a.Bytes())
	f.Add([]byte(`{"schema":"flowaudit.report/v1","requirements":[{"id":"x","status":"weird"}],"unexpected":[{"direction":"in","protocol":"ip-99"}]}`),
		[]byte(`{"schema":"flowaudit.report/v1","requirements":[{"id":"x","status":"blocked","ports":[[1,2]]},{"id":"y"}]}`))
	f.Add([]byte(`{"format":"flowaudit-session"`), []byte(`[]`))
	f.Add([]byte(`{"flows":[],"schema":"flowaudit.report/v1"}`), []byte("\xd4\xc3\xb2\xa1"))
	f.Fuzz(func(t *testing.T, before, after []byte) {
		dir := t.TempDir()
		var reps []*analyze.Report
		for i, data := range [][]byte{before, after} {
			path := filepath.Join(dir, []string{"b.json", "a.json"}[i])
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			kind, err := diffKind(path, path)
			if err != nil {
				checkOneLine(t, err)
				return
			}
			if kind != kindReport {
				return // sessions have their own fuzz target (capture/session)
			}
			rep, err := loadReport(path, path, 0)
			if err != nil {
				checkOneLine(t, err)
				return
			}
			reps = append(reps, rep)
		}
		d := analyze.Compare(reps[0], reps[1])
		ids := map[string]int{}
		for _, r := range d.Requirements {
			ids[r.ID]++
		}
		for _, rep := range reps {
			for _, r := range rep.Requirements {
				if ids[r.ID] != 1 {
					t.Fatalf("requirement %q listed %d times in the diff", r.ID, ids[r.ID])
				}
			}
		}
		for _, format := range []string{"json", "table", "markdown", "html"} {
			if err := diffFormats[format](io.Discard, d); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
		if err := render.DiffTable(io.Discard, d, render.Options{Color: true}); err != nil {
			t.Fatal(err)
		}
	})
}

func checkOneLine(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error on several lines: %q", err)
	}
}
