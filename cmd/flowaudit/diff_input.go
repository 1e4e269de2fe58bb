package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/capture/session"
)

// Kinds of diff input, as DiffSide.Kind names them.
const (
	kindReport  = "report"
	kindSession = "session"
)

// maxReportFile bounds a JSON report read by diff unless
// --max-input-size says otherwise. A report's size is bounded by its own
// caps (100 peers and timeline attempts per requirement, 1,024 unexpected
// groups of 100 peers): the largest is some tens of MiB.
const maxReportFile = 64 << 20

// sniffLimit is how much of a file diff reads to tell a report from a
// session: both writers put "schema" or "format" first.
const sniffLimit = 1 << 20

// diffKind tells a JSON report (schema flowaudit.report/v1) from a
// session (format flowaudit-session) by the file's content, reading at
// most its first sniffLimit bytes. Anything else is an error naming the
// file (as name) and what it seems to be.
func diffKind(path, name string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("diff input %s: %w", name, unwrapPath(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("diff input %s: not a regular file", name)
	}
	key, value := sniffJSON(bufio.NewReader(io.LimitReader(f, sniffLimit)))
	switch {
	case key == "schema" && value == analyze.SchemaVersion:
		return kindReport, nil
	case key == "format" && value == session.Format:
		return kindSession, nil
	case key == "schema" && value == analyze.DiffSchemaVersion:
		return "", fmt.Errorf("diff input %s is a diff (%s), not a report: give the reports or sessions it compared", name, value)
	case key == "schema" && strings.HasPrefix(value, "flowaudit.report/"):
		return "", fmt.Errorf("diff input %s: report schema %q is not supported (this flowaudit reads %s)", name, value, analyze.SchemaVersion)
	case key == "notjson":
		return "", fmt.Errorf("diff input %s: not JSON, so neither a flowaudit JSON report nor a session (a capture? replay it with -f json -o FILE.json, or --session FILE, first)", name)
	}
	return "", fmt.Errorf("diff input %s: neither a flowaudit JSON report (\"schema\": %q) nor a session (\"format\": %q)",
		name, analyze.SchemaVersion, session.Format)
}

// sniffJSON reads the top-level object's members until it meets "schema"
// or "format" with a string value, and returns that key and value. It
// returns "notjson" when the input does not start with a JSON value, and
// ("", "") when it is not an object or neither key was found within the
// input.
func sniffJSON(r *bufio.Reader) (key, value string) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return "notjson", ""
	}
	if tok != json.Delim('{') {
		return "", ""
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", ""
		}
		k, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", ""
		}
		if k == "schema" || k == "format" {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return k, s
			}
		}
	}
	return "", ""
}

// loadReport reads a JSON report written by `-f json` (name stands for
// path in errors): a regular file of
// at most max bytes (maxReportFile when max is 0). Requirements must have
// distinct IDs, or the diff could not pair them.
func loadReport(path, name string, max int64) (*analyze.Report, error) {
	if max <= 0 {
		max = maxReportFile
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", name, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", name, unwrapPath(err))
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("report %s: %d bytes, over the size limit of %d (--max-input-size raises it)", name, fi.Size(), max)
	}
	var rep analyze.Report
	// The limit holds if the file grows after the check: the JSON is then
	// cut, and damaged.
	if err := json.NewDecoder(bufio.NewReader(io.LimitReader(f, max))).Decode(&rep); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("report %s: damaged JSON: %v", name, err)
		}
		return nil, fmt.Errorf("report %s: %s", name, strings.TrimPrefix(err.Error(), "json: "))
	}
	seen := map[string]bool{}
	for _, r := range rep.Requirements {
		if r.ID == "" {
			return nil, fmt.Errorf("report %s: a requirement has no id", name)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("report %s: requirement %s is listed twice", name, r.ID)
		}
		seen[r.ID] = true
	}
	return &rep, nil
}
