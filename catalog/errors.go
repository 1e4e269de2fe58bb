package catalog

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Error is one problem found while loading a catalog or site file. Its
// text is a single line: "file:line: field: what is wrong", with any
// control or bidi character of the file name, field or message written
// out (Visible), so that a hostile key cannot split the line or reach the
// terminal raw.
type Error struct {
	File  string // file name as given to the loader
	Line  int    // 1-based; 0 when the problem is not tied to a line
	Field string // path of the offending field, e.g. "rows[3].ports[0]"
	Msg   string
}

func (e *Error) Error() string {
	s := Visible(e.File)
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Field != "" {
		s += ": " + Visible(e.Field)
	}
	return s + ": " + Visible(e.Msg)
}

// maxErrors bounds how many problems one file reports: enough to fix a
// file in one pass, not a wall of text for a file that is not YAML at all.
const maxErrors = 20

// errList gathers the problems of one file.
type errList struct {
	file string
	errs []error
}

func (l *errList) add(n *yaml.Node, field, format string, args ...any) {
	switch {
	case len(l.errs) > maxErrors:
		return
	case len(l.errs) == maxErrors:
		l.errs = append(l.errs, &Error{File: l.file, Msg: fmt.Sprintf("more problems not shown: fix these %d first", maxErrors)})
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error { return errors.Join(l.errs...) }

// full reports whether no more problems will be shown: callers stop
// reading there, so that a hostile file costs no more work than the
// problems it gets reported.
func (l *errList) full() bool { return len(l.errs) > maxErrors }

// parseYAML parses data into its top-level mapping node. A YAML syntax
// error comes back as one *Error naming the file.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: file, Msg: "not valid YAML: " + trimYAMLPrefix(err.Error())}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "file is empty"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: "top level must be a mapping of keys to values"}
	}
	return root, nil
}

func trimYAMLPrefix(s string) string {
	const p = "yaml: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
