package catalog

import (
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"
)

var siteKeys = []string{"hosts", "zones", "features"}

// LoadSite reads a site file: the gateway's own addresses, the CIDRs of
// named zones and the optional features in use. Nothing is returned when
// anything in it is wrong.
//
//	hosts: [192.0.2.10, 2001:db8:1::10]
//	zones:
//	  vendor-support: [198.51.100.0/24]
//	features: {cluster: true}
//
// The file must be a regular file of at most MaxFileSize bytes (see
// LoadSiteLimit).
func LoadSite(file string) (*Site, error) {
	return LoadSiteLimit(file, MaxFileSize)
}

// LoadSiteLimit is LoadSite for a file of at most max bytes (MaxFileSize
// when max is 0), refusing a larger one or anything but a regular file
// unread, as LoadFileLimit does.
func LoadSiteLimit(file string, max int64) (*Site, error) {
	data, err := readInput(file, max)
	if err != nil {
		return nil, fmt.Errorf("load site %s: %w", file, unwrapPath(err))
	}
	return ParseSite(file, data)
}

// ParseSite is LoadSite on bytes already read; name is used in errors.
func ParseSite(name string, data []byte) (*Site, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	return parseSite(name, root)
}

// parseSite is ParseSite on the file's top-level mapping.
func parseSite(name string, root *yaml.Node) (*Site, error) {
	l := &errList{file: name}
	s := &Site{Zones: map[string][]netip.Prefix{}, Features: map[string]bool{}}
	l.mapping(root, "", siteKeys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "hosts":
			l.seq(v, path, func(_ int, hv *yaml.Node, hp string) {
				str, ok := l.str(hv, hp)
				if !ok {
					return
				}
				a, err := netip.ParseAddr(str)
				if err != nil || a.Zone() != "" {
					l.add(hv, hp, "%q is not an IP address", str)
					return
				}
				s.Hosts = append(s.Hosts, a.Unmap())
			})
		case "zones":
			l.mapping(v, path, nil, func(k string, zv *yaml.Node, zp string) {
				if !validName(k) {
					l.add(zv, zp, "zone name %q: use lower-case letters, digits and dashes", k)
					return
				}
				var list []netip.Prefix
				l.seq(zv, zp, func(_ int, pv *yaml.Node, pp string) {
					str, ok := l.str(pv, pp)
					if !ok {
						return
					}
					pfx, err := parsePrefix(str)
					if err != nil {
						l.add(pv, pp, "%q: %v", str, err)
						return
					}
					list = append(list, pfx)
				})
				s.Zones[k] = list
			})
		case "features":
			l.mapping(v, path, nil, func(k string, fv *yaml.Node, fp string) {
				if !validName(k) {
					l.add(fv, fp, "feature name %q: use lower-case letters, digits and dashes", k)
					return
				}
				if b, ok := l.boolean(fv, fp); ok {
					s.Features[k] = b
				}
			})
		}
	})
	if err := l.err(); err != nil {
		return nil, err
	}
	return s, nil
}
