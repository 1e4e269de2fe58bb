package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/atomicfile"
	"github.com/flowaudit/flowaudit/internal/escape"
	"github.com/flowaudit/flowaudit/internal/text"
)

// writeCatalogOutput writes to stdout when path is "" or "-", else to the file
// path, atomically, as reports are written (atomicfile.WriteFile: a
// temporary file renamed into place, so that a ruleset is never half
// written). A file written is announced with summary on stderr.
func (a *app) writeCatalogOutput(path, summary string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(a.stdout)
	}
	if err := atomicfile.WriteFile(path, func(f *os.File) error { return write(f) }); err != nil {
		return err
	}
	a.announce(path, summary)
	return nil
}

func newCatalogExportCmd(a *app, files *[]string) *cobra.Command {
	var format, site, out string
	var with, without, admins []string
	cmd := &cobra.Command{
		Use:   "export PRODUCT [--format nftables|iptables|ip6tables] [--allow-admin CIDR]... [--with FEATURE]... [-o FILE]",
		Short: "Export a product's applicable requirements as a firewall ruleset",
		Long: "Writes a ruleset that allows exactly the product's requirements that apply with\n" +
			"the chosen features and drops the rest, keeping what the host needs: established\n" +
			"connections, loopback, ICMP errors, IPv6 neighbour discovery, DHCP, and SSH, web\n" +
			"UI and ping from the --allow-admin networks. Zones are filled from --site (nftables:\n" +
			"named sets to fill in). What can cut access when loaded is printed as a warning and\n" +
			"written into the file. Formats: nftables (nft -f), iptables and ip6tables (the two\n" +
			"halves for iptables-restore and ip6tables-restore). Check before loading:\n" +
			"nft -c -f FILE, or iptables-restore --test FILE. See docs/catalog.md.",
		Example: "  flowaudit catalog export mailcleaner --site site.yaml --allow-admin 192.0.2.0/28 -o mailcleaner.nft\n" +
			"  flowaudit catalog export mailcleaner --site site.yaml --allow-admin 192.0.2.0/28 -o rules.v4\n" +
			"  flowaudit catalog export mailcleaner --site site.yaml --allow-admin 2001:db8:a:ad::/64 -o rules.v6",
		Args: oneArg("catalog export", "PRODUCT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			inputs := slices.Clone(*files)
			if site != "" {
				inputs = append(inputs, site)
			}
			if err := checkOutputs(inputs, output{"--output", out}); err != nil {
				return err
			}
			format, err := resolveFormat(exportFileFormats, "", format, "nftables", out)
			if err != nil {
				return fmt.Errorf("catalog export: %w", err)
			}
			p, err := a.loadProduct(*files, args[0])
			if err != nil {
				return err
			}
			opt, err := a.exportOptions(p, site, with, without, admins)
			if err != nil {
				return err
			}
			warnings, err := catalog.ExportWarnings(p, opt)
			if err != nil {
				return fmt.Errorf("%s export: %w", format, err)
			}
			write := func(w io.Writer) error { return catalog.WriteNFTables(w, p, opt) }
			switch format {
			case "iptables":
				write = func(w io.Writer) error { return catalog.WriteIPTables(w, p, opt, catalog.IPv4) }
			case "ip6tables":
				write = func(w io.Writer) error { return catalog.WriteIPTables(w, p, opt, catalog.IPv6) }
			}
			if err := a.writeCatalogOutput(out, exportSummary(format, p, opt, warnings), write); err != nil {
				return err
			}
			for _, w := range warnings {
				a.log.Warn(w.String())
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "f", "", "ruleset `format`: nftables, iptables (IPv4, for iptables-restore) or ip6tables (IPv6, for ip6tables-restore); -o FILE.nft, .v4 (.rules, .iptables) or .v6 (.ip6tables) picks it")
	fl.StringArrayVar(&admins, "allow-admin", nil, "management network `CIDR` (address or prefix, repeatable): SSH, web UI ports and ping are accepted from it")
	fl.StringArrayVar(&with, "with", nil, "turn optional `FEATURE` on (repeatable; FEATURE=false turns it off)")
	fl.StringArrayVar(&without, "without", nil, "turn optional `FEATURE` off (repeatable)")
	fl.StringVar(&site, "site", "", "site `FILE` whose zones fill the sets and whose features apply")
	fl.StringVarP(&out, "output", "o", "", "write the ruleset to `FILE` (atomically) instead of stdout")
	return cmd
}

// exportOptions resolves export's flags: the site file, the features
// (flags over the site's) and the management networks.
func (a *app) exportOptions(p *catalog.Product, site string, with, without, admins []string) (catalog.ExportOptions, error) {
	opt := catalog.ExportOptions{Features: map[string]bool{}}
	var err error
	if site != "" {
		if opt.Site, err = catalog.LoadSiteLimit(site, int64(a.maxInput)); err != nil {
			return opt, sizeHint(firstProblem(err, site, true))
		}
		for f, on := range opt.Site.Features {
			opt.Features[f] = on
		}
	}
	features, err := parseFeatures(with, without)
	if err != nil {
		return opt, err
	}
	for f, on := range features {
		if err := checkFeature([]*catalog.Product{p}, f); err != nil {
			return opt, err
		}
		opt.Features[f] = on
	}
	for _, s := range admins {
		pfx, err := catalog.ParseCIDR(strings.TrimSpace(s))
		if err != nil {
			return opt, fmt.Errorf("--allow-admin %q: %v", s, err)
		}
		if pfx.Bits() == 0 {
			return opt, fmt.Errorf("--allow-admin %q: that is every address: give the management network", s)
		}
		opt.AllowAdmin = append(opt.AllowAdmin, pfx)
	}
	return opt, nil
}

// exportSummary is the line that announces a ruleset written to a file.
func exportSummary(format string, p *catalog.Product, opt catalog.ExportOptions, ws []catalog.ExportWarning) string {
	n := 0
	for _, r := range p.Requirements {
		if r.Applies(opt.Features) {
			n++
		}
	}
	lock := 0
	for _, w := range ws {
		if w.LockOut {
			lock++
		}
	}
	nets := "no --allow-admin"
	if len(opt.AllowAdmin) > 0 {
		nets = "admin access from " + text.Count(len(opt.AllowAdmin), "network", "networks")
	}
	return fmt.Sprintf("%s ruleset for %s, %d of %s, %s, %s (%d lock-out risks)",
		format, p.Name, n, text.Count(len(p.Requirements), "requirement", "requirements"), nets, text.Count(len(ws), "warning", "warnings"), lock)
}

func newCatalogValidateCmd(a *app, files *[]string) *cobra.Command {
	var sites []string
	cmd := &cobra.Command{
		Use:   "validate [FILE]... [--site FILE]... [--catalog FILE]...",
		Short: "Check catalog and site files; print each problem as file:line: field: what is wrong",
		Long: "Checks each FILE, telling a catalog file (product, rows) from a site file (hosts,\n" +
			"zones, features) by its top-level keys; --site FILE checks FILE as a site file and\n" +
			"--catalog FILE as a catalog file, as the other commands read them. Files are checked\n" +
			"in this order: --catalog files, --site files, then each FILE.",
		RunE: func(cmd *cobra.Command, args []string) error {
			var items []validateItem
			for _, f := range *files {
				items = append(items, validateItem{f, catalog.KindCatalog})
			}
			for _, f := range sites {
				items = append(items, validateItem{f, catalog.KindSite})
			}
			for _, f := range args {
				items = append(items, validateItem{f, ""})
			}
			if len(items) == 0 {
				return errors.New("catalog validate: give a FILE (a catalog or site file; --site FILE or --catalog FILE say which)")
			}
			if len(items) == 1 {
				return a.validate(items[0])
			}
			bad := 0
			for _, it := range items {
				if err := a.validate(it); err != nil {
					bad++
					fmt.Fprintf(a.stderr, "%s\n", escape.Terminal(err.Error()))
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d files have problems (listed above)", bad, len(items))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sites, "site", nil, "check site `FILE` (hosts, zones, features) (repeatable)")
	return cmd
}

// validateItem is one file for validate, with its kind ("" when it is
// told by the file's keys).
type validateItem struct {
	path string
	kind catalog.FileKind
}

// validate checks one file: an ok line on stdout, or the problems (see
// app.problems).
func (a *app) validate(it validateItem) error {
	max := int64(a.maxInput)
	name := escape.Terminal(it.path)
	var c *catalog.Catalog
	var s *catalog.Site
	var err error
	switch it.kind {
	case catalog.KindSite:
		s, err = catalog.LoadSiteLimit(it.path, max)
	case catalog.KindCatalog:
		c, err = catalog.LoadFileLimit(it.path, max)
	default:
		// The kind is told by the file's top-level keys; the ok line
		// names it, and a problem's field (zones.x, rows[2]) shows it.
		_, c, s, err = catalog.LoadAnyLimit(it.path, max)
	}
	if err != nil {
		if it.kind != "" {
			// Given as one kind, but its keys say the other: say so.
			if kind, _, _, _ := catalog.LoadAnyLimit(it.path, max); kind != "" && kind != it.kind {
				defer fmt.Fprintf(a.stderr, "%s: this looks like a %s file: check it without --%s\n", name, kind, it.kind)
			}
		}
		return a.problems(sizeHint(err), it.path)
	}
	if s != nil {
		fmt.Fprintf(a.stdout, "%s: ok: site file: %s, %s, %s\n",
			name, text.Count(len(s.Hosts), "host", "hosts"), text.Count(len(s.Zones), "zone", "zones"), text.Count(len(s.Features), "feature", "features"))
		return nil
	}
	for _, p := range c.Products {
		fmt.Fprintf(a.stdout, "%s: ok: catalog file: product %s, %s, %s\n",
			name, escape.Terminal(p.Name), text.Count(len(p.Requirements), "requirement", "requirements"), text.Count(len(p.Features()), "feature", "features"))
	}
	return nil
}
