package catalog

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Feature is an optional product feature that rows can be conditional on.
type Feature struct {
	Name        string `json:"name"`
	Default     bool   `json:"default"`
	Description string `json:"description"`
}

var (
	productKeys = []string{"product", "title", "document", "features", "rows"}
	featureKeys = []string{"name", "default", "description"}
	rowKeys     = []string{"name", "direction", "protocol", "ports", "peers", "service", "purpose", "condition", "notes", "oneway", "admin", "source"}
	sourceKeys  = []string{"document", "text"}
)

// Parse reads one product file (see docs/catalog.md for the format). name
// is the file name used in error messages. Every problem found is
// reported, one *Error per line of the joined error; on error no product
// is returned. A file whose rows would make more than
// MaxProductRequirements requirements is refused before they are made.
func Parse(name string, data []byte) (*Product, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	return parseProduct(name, root)
}

// parseProduct is Parse on the file's top-level mapping.
func parseProduct(name string, root *yaml.Node) (*Product, error) {
	l := &errList{file: name}
	p := &Product{}
	var rowsNode *yaml.Node
	var document string
	features := map[string]Feature{}
	l.mapping(root, "", productKeys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "product":
			p.Name = l.name(v, path)
		case "title":
			p.Title, _ = l.str(v, path)
		case "document":
			// A bad value is reported here; "?" keeps the rows from
			// reporting it missing as well (nothing of the file is used).
			var ok bool
			if document, ok = l.str(v, path); !ok {
				document = "?"
			}
		case "features":
			l.seqMax(v, path, MaxFeatures, "features", " per product", func(_ int, fv *yaml.Node, fpath string) {
				f, ok := l.feature(fv, fpath)
				if !ok {
					return
				}
				if _, dup := features[f.Name]; dup {
					l.add(fv, fpath+".name", "feature %q declared twice", f.Name)
					return
				}
				features[f.Name] = f
				p.features = append(p.features, f)
			})
		case "rows":
			rowsNode = v
		}
	})
	if p.Name == "" && len(l.errs) == 0 {
		l.add(root, "product", "missing: every file names its product")
	}
	if rowsNode == nil {
		if len(l.errs) == 0 {
			l.add(root, "rows", "missing: a product needs at least one row")
		}
		return nil, l.err()
	}
	l.rows(p, rowsNode, document, features)
	if len(l.errs) == 0 && len(p.Requirements) == 0 {
		l.add(rowsNode, "rows", "must list at least one row")
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// rows reads the rows into p.Requirements. It stops at the first row
// that would take the product over MaxProductRequirements, and once no
// more problems would be shown, so that its work is bounded whatever the
// file holds.
func (l *errList) rows(p *Product, rowsNode *yaml.Node, document string, features map[string]Feature) {
	ids := map[string]int{}
	stop := false
	l.seq(rowsNode, "rows", func(_ int, rv *yaml.Node, path string) {
		if stop || l.full() {
			return
		}
		r, ok := l.row(rv, path, document, features)
		if !ok {
			return
		}
		if n := r.count(); len(p.Requirements)+n > MaxProductRequirements {
			more := "more requirements"
			if n == 1 {
				more = "more requirement"
			}
			l.add(rv, path, "this row makes %d %s after %d from the rows before it: at most %d per product "+
				"(a row makes one per direction, protocol and ports entry: write consecutive ports as one range)",
				n, more, len(p.Requirements), MaxProductRequirements)
			stop = true
			return
		}
		for _, req := range r.expand(p.Name) {
			if len(req.ID) > MaxIDLen {
				l.add(rv, path+".name", "id %s is %d characters long, at most %d (nftables comments hold no more): shorten the row's or the product's name", req.ID, len(req.ID), MaxIDLen)
				return
			}
			if line, dup := ids[req.ID]; dup {
				l.add(rv, path+".name", "duplicate id %s (first made by the row at line %d); give this row another name", req.ID, line)
				continue
			}
			ids[req.ID] = rv.Line
			p.Requirements = append(p.Requirements, req)
		}
	})
}

// name reads a product or feature name: lower-case letters, digits and
// dashes, so it can stand in ids, flags and nftables identifiers.
func (l *errList) name(v *yaml.Node, path string) string {
	s, ok := l.str(v, path)
	if ok && !validName(s) {
		l.add(v, path, "%q: use lower-case letters, digits and dashes", s)
	}
	return s
}

func (l *errList) feature(n *yaml.Node, path string) (Feature, bool) {
	var f Feature
	var haveDefault bool
	n0 := len(l.errs)
	ok := l.mapping(n, path, featureKeys, func(key string, v *yaml.Node, p string) {
		switch key {
		case "name":
			f.Name = l.name(v, p)
		case "default":
			f.Default, haveDefault = l.boolean(v, p)
		case "description":
			f.Description, _ = l.str(v, p)
		}
	})
	if ok && f.Name == "" && len(l.errs) == n0 {
		l.add(n, path+".name", "missing")
	}
	if ok && !haveDefault && len(l.errs) == n0 {
		l.add(n, path+".default", "missing: say whether the feature is assumed on (true) or off (false)")
	}
	return f, ok && len(l.errs) == n0
}

// rowFields is one row as written, before it is expanded into requirements.
type rowFields struct {
	name      string
	dirs      []Direction
	protos    []Protocol
	ports     []PortRange
	portsNode *yaml.Node // nil when the row has no ports key
	peers     []Peer
	service   string
	purpose   string
	condition *Condition
	notes     []string
	oneway    bool
	// onewayNode is the oneway key's value, for errors.
	onewayNode *yaml.Node
	admin      bool
	adminNode  *yaml.Node
	source     Source
}

// row reads and checks one row; expand turns it into requirements.
func (l *errList) row(n *yaml.Node, path, document string, features map[string]Feature) (*rowFields, bool) {
	n0 := len(l.errs)
	r := &rowFields{source: Source{Document: document}}
	have := map[string]bool{}
	if !l.mapping(n, path, rowKeys, func(key string, v *yaml.Node, p string) {
		have[key] = true
		l.rowField(r, key, v, p, features)
	}) {
		return nil, false
	}
	for _, k := range []string{"name", "direction", "protocol", "peers", "source"} {
		if !have[k] {
			l.add(n, join(path, k), "missing")
		}
	}
	if have["source"] && r.source.Document == "" {
		l.add(n, path+".source.document", "missing: name the document (here or as the file's document)")
	}
	for _, pr := range r.protos {
		switch {
		case pr == ICMP && r.portsNode != nil:
			l.add(r.portsNode, path+".ports", "icmp has no ports; put icmp in its own row without ports")
		case pr != ICMP && r.portsNode == nil:
			l.add(n, path+".ports", "missing: %s needs ports", pr)
		}
	}
	if r.oneway {
		for _, pr := range r.protos {
			if pr != UDP {
				l.add(r.onewayNode, path+".oneway", "only a udp row can be one-way (%s always answers)", pr)
			}
		}
	}
	if r.admin {
		l.adminRow(r, path)
	}
	if len(l.errs) > n0 {
		return nil, false
	}
	if r.notes == nil {
		r.notes = []string{}
	}
	return r, true
}

// adminRow checks an admin row: administrators open TCP connections to
// the gateway, so the row must be tcp only and have an inbound direction
// (its outbound half, in a "both" row, is not admin access).
func (l *errList) adminRow(r *rowFields, path string) {
	if !slices.Contains(r.dirs, In) && r.dirs != nil {
		l.add(r.adminNode, path+".admin", "only an inbound row (direction in or both) can be admin access")
	}
	for _, pr := range r.protos {
		if pr != TCP {
			l.add(r.adminNode, path+".admin", "only a tcp row can be admin access (%s is listed)", pr)
			return
		}
	}
}

// rowField reads one key of a row into r.
func (l *errList) rowField(r *rowFields, key string, v *yaml.Node, p string, features map[string]Feature) {
	switch key {
	case "name":
		if s, ok := l.str(v, p); ok {
			if !validName(s) {
				l.add(v, p, "%q: use lower-case letters, digits and dashes (it becomes part of the id)", s)
			}
			r.name = s
		}
	case "direction":
		r.dirs = l.direction(v, p)
	case "protocol":
		r.protos = l.protocols(v, p)
	case "ports":
		r.portsNode = v
		r.ports = l.ports(v, p)
	case "peers":
		r.peers = l.peers(v, p)
	case "service":
		r.service, _ = l.str(v, p)
	case "purpose":
		r.purpose, _ = l.str(v, p)
	case "condition":
		if s, ok := l.str(v, p); ok {
			f, known := features[s]
			if !known {
				l.add(v, p, "unknown feature %q: declare it under features", s)
				return
			}
			r.condition = &Condition{Feature: f.Name, Default: f.Default}
		}
	case "oneway":
		r.oneway, _ = l.boolean(v, p)
		if r.oneway {
			r.onewayNode = v
		}
	case "admin":
		r.admin, _ = l.boolean(v, p)
		r.adminNode = v
	case "notes":
		if list, ok := l.strOrSeq(v, p, MaxNotes, "notes", " per row"); ok {
			for _, s := range list {
				r.notes = append(r.notes, strings.TrimSpace(s))
			}
		}
	case "source":
		l.source(r, v, p)
	}
}

func (l *errList) direction(v *yaml.Node, p string) []Direction {
	s, ok := l.str(v, p)
	if !ok {
		return nil
	}
	switch s {
	case "in":
		return []Direction{In}
	case "out":
		return []Direction{Out}
	case "both":
		return []Direction{In, Out}
	}
	l.add(v, p, "unknown direction %q (want in, out or both)", s)
	return nil
}

func (l *errList) peers(v *yaml.Node, p string) []Peer {
	list, ok := l.strOrSeq(v, p, MaxPeers, "peers", " per row")
	if !ok {
		return nil
	}
	var out []Peer
	for i, s := range list {
		peer, err := ParsePeer(s)
		if err != nil {
			l.add(v, fmt.Sprintf("%s[%d]", p, i), "bad peer %v", err)
			continue
		}
		out = append(out, peer)
	}
	return out
}

func (l *errList) protocols(v *yaml.Node, p string) []Protocol {
	list, ok := l.strOrSeq(v, p, 8, "protocols", " (tcp, udp and icmp, each once)")
	if !ok {
		return nil
	}
	var out []Protocol
	for _, s := range list {
		switch pr := Protocol(strings.ToLower(s)); pr {
		case TCP, UDP, ICMP:
			if slices.Contains(out, pr) {
				l.add(v, p, "protocol %s listed twice", pr)
				continue
			}
			out = append(out, pr)
		default:
			l.add(v, p, "unknown protocol %q (want tcp, udp or icmp)", s)
		}
	}
	return out
}

// ports reads one port or range, or a list of at most MaxPortEntries
// that do not overlap (the check is quadratic, which that bound keeps
// under a millisecond).
func (l *errList) ports(v *yaml.Node, p string) []PortRange {
	if v.Kind == yaml.ScalarNode {
		if pr, ok := l.portRange(v, p); ok {
			return []PortRange{pr}
		}
		return nil
	}
	var out []PortRange
	l.seqMax(v, p, MaxPortEntries, "entries", ` per row: write consecutive ports as one range, such as "1-65535", which makes one requirement`,
		func(_ int, pv *yaml.Node, pp string) {
			pr, ok := l.portRange(pv, pp)
			if !ok {
				return
			}
			for _, q := range out {
				if pr[0] <= q[1] && q[0] <= pr[1] {
					l.add(pv, pp, "%s overlaps %s, listed before in this row", pr, q)
					return
				}
			}
			out = append(out, pr)
		})
	return out
}

func (l *errList) source(r *rowFields, v *yaml.Node, p string) {
	haveText := false
	l.mapping(v, p, sourceKeys, func(key string, sv *yaml.Node, sp string) {
		switch key {
		case "document":
			var ok bool
			if r.source.Document, ok = l.str(sv, sp); !ok {
				r.source.Document = "?" // reported: not missing as well
			}
		case "text":
			haveText = true
			if sv.Kind == yaml.ScalarNode && strings.TrimSpace(sv.Value) == "" {
				l.add(sv, sp, "empty source: cite the document's text for this row")
			} else if s, ok := l.str(sv, sp); ok {
				r.source.Text = strings.TrimSpace(s)
			}
		}
	})
	if !haveText && v.Kind == yaml.MappingNode {
		l.add(v, p+".text", "missing: cite the document's text for this row")
	}
}

// count is how many requirements expand makes: one per direction, per
// protocol and per ports entry (ICMP has none and makes one).
func (r *rowFields) count() int {
	n := 0
	for _, pr := range r.protos {
		if pr == ICMP {
			n++
		} else {
			n += len(r.ports)
		}
	}
	return n * len(r.dirs)
}

// expand makes the row's requirements: one per direction, per protocol
// and per port or range, so that each can be reported on its own. A
// range stays one requirement whatever its width.
func (r *rowFields) expand(product string) []Requirement {
	out := make([]Requirement, 0, r.count())
	for _, d := range r.dirs {
		for _, pr := range r.protos {
			ranges := r.ports
			if pr == ICMP {
				ranges = []PortRange{{}}
			}
			for _, rg := range ranges {
				// Each requirement gets its own copies so that a caller
				// editing one cannot change its siblings.
				req := Requirement{
					Direction: d, Protocol: pr, Peers: slices.Clone(r.peers),
					Service: r.service, Purpose: r.purpose,
					Notes: slices.Clone(r.notes), Source: r.source, Ports: []PortRange{}, OneWay: r.oneway,
					Admin: r.admin && d == In,
				}
				if r.condition != nil {
					c := *r.condition
					req.Condition = &c
				}
				id := fmt.Sprintf("%s/%s-%s-", product, d, pr)
				if pr != ICMP {
					req.Ports = []PortRange{rg}
					id += rg.String() + "-"
				}
				req.ID = id + r.name
				out = append(out, req)
			}
		}
	}
	return out
}

// String renders "25" or "10045-10049".
func (r PortRange) String() string {
	if r[0] == r[1] {
		return fmt.Sprint(r[0])
	}
	return fmt.Sprintf("%d-%d", r[0], r[1])
}
