package catalog

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileKind is what a YAML file of this package holds: a catalog (one
// product's requirements) or a site (one installation).
type FileKind string

// The kinds of file.
const (
	KindCatalog FileKind = "catalog"
	KindSite    FileKind = "site"
)

// DetectKind tells a catalog file from a site file by its top-level keys:
// product, title, document or rows make a catalog file; hosts or zones a
// site file; features alone, a list (catalog) or a mapping (site). A file
// that is not YAML, is empty, or has keys of neither kind or of both is
// an *Error naming the file and the keys it found.
func DetectKind(name string, data []byte) (FileKind, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return "", err
	}
	return detectKind(name, root)
}

func detectKind(name string, root *yaml.Node) (FileKind, error) {
	var cat, site, all []string
	var features *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		switch {
		case k == "features":
			features = root.Content[i+1]
		case slices.Contains(productKeys, k):
			cat = append(cat, k)
		case slices.Contains(siteKeys, k):
			site = append(site, k)
		}
		if len(all) < 8 {
			all = append(all, shortKey(k))
		}
	}
	switch {
	case len(cat) > 0 && len(site) > 0:
		return "", &Error{File: name, Line: root.Line, Msg: fmt.Sprintf(
			"has keys of a catalog file (%s) and of a site file (%s): give each its own file", strings.Join(cat, ", "), strings.Join(site, ", "))}
	case len(cat) > 0:
		return KindCatalog, nil
	case len(site) > 0:
		return KindSite, nil
	case features != nil && features.Kind == yaml.SequenceNode:
		return KindCatalog, nil
	case features != nil && features.Kind == yaml.MappingNode:
		return KindSite, nil
	}
	return "", &Error{File: name, Line: root.Line, Msg: fmt.Sprintf(
		"neither a catalog file (product, rows) nor a site file (hosts, zones, features): its top-level keys are %s", strings.Join(all, ", "))}
}

// shortKey keeps a key to 40 characters for a message.
func shortKey(k string) string {
	if r := []rune(k); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return k
}

// LoadAnyLimit reads a catalog or a site file of at most max bytes
// (MaxFileSize when max is 0), telling which by DetectKind, and validates
// it as that kind: it returns the kind and a Catalog (with its one
// product) or a Site. The kind is returned also when the file has
// problems, once it is known; the error is then the validation's.
func LoadAnyLimit(file string, max int64) (FileKind, *Catalog, *Site, error) {
	data, err := readInput(file, max)
	if err != nil {
		return "", nil, nil, fmt.Errorf("load catalog or site file %s: %w", file, unwrapPath(err))
	}
	root, err := parseYAML(file, data)
	if err != nil {
		return "", nil, nil, err
	}
	kind, err := detectKind(file, root)
	if err != nil {
		return "", nil, nil, err
	}
	if kind == KindSite {
		s, err := parseSite(file, root)
		return kind, nil, s, err
	}
	p, err := parseProduct(file, root)
	if err != nil {
		return kind, nil, nil, err
	}
	return kind, &Catalog{Products: []*Product{p}}, nil, nil
}
