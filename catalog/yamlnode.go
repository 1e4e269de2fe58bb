package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Helpers that read typed values out of yaml.Node trees, reporting every
// problem with its line and field path instead of failing on the first.

// mapping calls fn for each key of a mapping node, in file order, and
// reports keys that are not in allowed (any key is allowed when allowed is
// nil), repeated keys and non-scalar keys.
func (l *errList) mapping(n *yaml.Node, field string, allowed []string, fn func(key string, v *yaml.Node, path string)) bool {
	if !l.kind(n, field, yaml.MappingNode, "a mapping") {
		return false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.add(k, field, "keys must be plain words")
			continue
		}
		path := join(field, k.Value)
		if !l.clean(k, path, "key", k.Value) {
			continue
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			l.add(k, path, "unknown key (allowed: %s)", strings.Join(allowed, ", "))
			continue
		}
		if seen[k.Value] {
			l.add(k, path, "key given twice")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, v, path)
	}
	return true
}

// kind checks a node's kind; aliases are refused because a catalog is
// meant to be read row by row, and expanding them invites blow-ups.
func (l *errList) kind(n *yaml.Node, field string, want yaml.Kind, what string) bool {
	if n.Kind == yaml.AliasNode {
		l.add(n, field, "YAML aliases are not supported; write the value out")
		return false
	}
	if n.Kind != want {
		l.add(n, field, "must be %s", what)
		return false
	}
	return true
}

// str reads a non-empty scalar string of one line without control or
// bidi characters. A block scalar's final line break ("|" and ">" keep
// one) is dropped; any other line break is refused.
func (l *errList) str(n *yaml.Node, field string) (string, bool) {
	if !l.kind(n, field, yaml.ScalarNode, "a single value") {
		return "", false
	}
	v := n.Value
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		v = strings.TrimRight(v, "\n")
	}
	if n.Tag == "!!null" || strings.TrimSpace(v) == "" {
		l.add(n, field, "must not be empty")
		return "", false
	}
	if !l.clean(n, field, "value", v) {
		return "", false
	}
	return v, true
}

// clean reports whether s (a key or a value) is free of the characters
// forbidden refuses, and reports the first one otherwise, escaped.
func (l *errList) clean(n *yaml.Node, field, what, s string) bool {
	pos, desc, bad := firstForbidden(s)
	if bad {
		l.add(n, field, "%s has %s at character %d: control characters, bidi controls and line breaks are not allowed", what, desc, pos)
	}
	return !bad
}

// seqMax is seq for lists of at most max elements: a longer list is one
// problem ("N what, at most max" and the hint), and its elements are not
// read.
func (l *errList) seqMax(n *yaml.Node, field string, max int, what, hint string, fn func(i int, v *yaml.Node, path string)) bool {
	if n.Kind == yaml.SequenceNode && len(n.Content) > max {
		l.add(n, field, "%d %s, at most %d%s", len(n.Content), what, max, hint)
		return false
	}
	return l.seq(n, field, fn)
}

// boolean reads true or false.
func (l *errList) boolean(n *yaml.Node, field string) (bool, bool) {
	if !l.kind(n, field, yaml.ScalarNode, "true or false") || !l.clean(n, field, "value", n.Value) {
		return false, false
	}
	switch n.Value {
	case "true", "True", "TRUE", "yes":
		return true, true
	case "false", "False", "FALSE", "no":
		return false, true
	}
	l.add(n, field, "must be true or false, not %q", n.Value)
	return false, false
}

// seq calls fn for each element of a sequence node.
func (l *errList) seq(n *yaml.Node, field string, fn func(i int, v *yaml.Node, path string)) bool {
	if !l.kind(n, field, yaml.SequenceNode, "a list") {
		return false
	}
	for i, v := range n.Content {
		fn(i, v, fmt.Sprintf("%s[%d]", field, i))
	}
	return true
}

// strOrSeq reads either one scalar or a list of at most max scalars
// (what names them in the error for a longer list).
func (l *errList) strOrSeq(n *yaml.Node, field string, max int, what, hint string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode {
		s, ok := l.str(n, field)
		return []string{s}, ok
	}
	var out []string
	ok := true
	good := l.seqMax(n, field, max, what, hint, func(_ int, v *yaml.Node, path string) {
		s, k := l.str(v, path)
		ok = ok && k
		out = append(out, s)
	})
	if good && len(out) == 0 {
		l.add(n, field, "must not be an empty list")
		return nil, false
	}
	return out, ok && good
}

// portRange reads 25, "25" or "10045-10049".
func (l *errList) portRange(n *yaml.Node, field string) (PortRange, bool) {
	s, ok := l.str(n, field)
	if !ok {
		return PortRange{}, false
	}
	los, his, isRange := strings.Cut(s, "-")
	lo, ok1 := l.port(n, field, los)
	hi := lo
	ok2 := true
	if isRange {
		hi, ok2 = l.port(n, field, his)
	}
	if !ok1 || !ok2 {
		return PortRange{}, false
	}
	if lo > hi {
		l.add(n, field, "reversed range %q: the first port must not be above the second", s)
		return PortRange{}, false
	}
	return PortRange{uint16(lo), uint16(hi)}, true
}

func (l *errList) port(n *yaml.Node, field, s string) (int, bool) {
	s = strings.TrimSpace(s)
	v, err := strconv.Atoi(s)
	if err != nil {
		l.add(n, field, "%q is not a port number or a lo-hi range", n.Value)
		return 0, false
	}
	if v < 1 || v > 65535 {
		l.add(n, field, "port %d out of range 1-65535", v)
		return 0, false
	}
	return v, true
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
