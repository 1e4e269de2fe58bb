package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/flowaudit/flowaudit/catalog"
	"github.com/flowaudit/flowaudit/internal/escape"
	"github.com/flowaudit/flowaudit/internal/text"
)

func init() { subcommands = append(subcommands, newCatalogCmd) }

// addCatalogFlag registers the repeatable --catalog flag on cmd and its
// subcommands; every command that resolves products uses it with
// app.loadCatalog.
func addCatalogFlag(cmd *cobra.Command, files *[]string) {
	cmd.PersistentFlags().StringArrayVar(files, "catalog", nil,
		"catalog `FILE` overlaid on the bundled products (repeatable; later files win)")
}

// loadCatalog returns the bundled catalog with each user file overlaid in
// order: a file's requirements replace bundled ones with the same id and
// add the others; a new product name adds a product.
func (a *app) loadCatalog(files []string) (*catalog.Catalog, error) {
	c, err := catalog.Bundled()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		o, err := catalog.LoadFileLimit(f, int64(a.maxInput))
		if err != nil {
			return nil, sizeHint(firstProblem(err, f, false))
		}
		c = c.Overlay(o)
		if err := c.CheckSize(); err != nil {
			return nil, fmt.Errorf("%s: %w", catalog.Visible(f), err)
		}
	}
	return c, nil
}

// loadProduct returns one product of the catalog loadCatalog builds.
func (a *app) loadProduct(files []string, name string) (*catalog.Product, error) {
	c, err := a.loadCatalog(files)
	if err != nil {
		return nil, err
	}
	return c.Product(name)
}

func newCatalogCmd(a *app) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List, show, validate and export the vendors' port requirements",
		Long: "The catalog holds each product's network requirements, taken from the vendor's\n" +
			"published port lists; every requirement cites the text it comes from.\n" +
			"See docs/catalog.md for the file format.",
	}
	// Without a subcommand: a usage error (exit 2), not help and success.
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 && args[0] == "help" { // "catalog help show"
			sub, _, err := cmd.Find(args[1:])
			if err != nil || sub == cmd && len(args) > 1 {
				return fmt.Errorf("catalog help: no subcommand %q (want list, show, validate or export)", strings.Join(args[1:], " "))
			}
			return sub.Help()
		}
		if len(args) > 0 {
			return fmt.Errorf("catalog: unknown subcommand %q (want list, show, validate or export)", args[0])
		}
		return errors.New("catalog: give a subcommand: list, show, validate or export (flowaudit catalog --help)")
	}
	addCatalogFlag(cmd, &files)
	a.addMaxInputFlag(cmd.PersistentFlags())
	cmd.AddCommand(
		newCatalogListCmd(a, &files),
		newCatalogShowCmd(a, &files),
		newCatalogValidateCmd(a, &files),
		newCatalogExportCmd(a, &files),
	)
	return cmd
}

func newCatalogListCmd(a *app, files *[]string) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the products with their requirement counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.loadCatalog(*files)
			if err != nil {
				return err
			}
			rows := [][]string{}
			for _, name := range c.Names() {
				p, _ := c.Product(name)
				conditional := 0
				for _, r := range p.Requirements {
					if r.Condition != nil {
						conditional++
					}
				}
				feats := []string{}
				for _, f := range p.Features() {
					feats = append(feats, f.Name)
				}
				rows = append(rows, []string{p.Name, p.Title, fmt.Sprint(len(p.Requirements)),
					fmt.Sprint(conditional), strings.Join(feats, ", ")})
			}
			return renderTable(a.stdout, false,
				[]string{"Product", "Title", "Requirements", "Conditional", "Features"}, rows)
		},
	}
}

// showJSON is the contract of `catalog show --format json`: other tools
// read it, so its shape changes only by adding fields.
type showJSON struct {
	Product      string                `json:"product"`
	Requirements []catalog.Requirement `json:"requirements"`
}

func newCatalogShowCmd(a *app, files *[]string) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "show PRODUCT [--format table|json|markdown] [-o FILE]",
		Short: "Show a product's requirements as a table, markdown or JSON",
		Args:  oneArg("catalog show", "PRODUCT (flowaudit catalog list shows them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputs(*files, output{"--output", out}); err != nil {
				return err
			}
			format, err := resolveFormat(showFileFormats, "", format, "table", out)
			if err != nil {
				return fmt.Errorf("catalog show: %w", err)
			}
			p, err := a.loadProduct(*files, args[0])
			if err != nil {
				return err
			}
			summary := fmt.Sprintf("%s, %s of %s", format, text.Count(len(p.Requirements), "requirement", "requirements"), p.Name)
			return a.writeCatalogOutput(out, summary, func(w io.Writer) error {
				switch format {
				case "json":
					return writeJSON(w, showJSON{Product: p.Name, Requirements: p.Requirements}, "encode catalog")
				case "markdown":
					return showTable(w, p, true)
				}
				return showTable(w, p, false)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "output `format`: table (the default), json or markdown; -o FILE.txt, .json or .md picks it")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to `FILE` (atomically) instead of stdout")
	return cmd
}

// checkFeature refuses a feature none of the products has, so that a
// typo in --with or --without is an error rather than a silent no-op.
func checkFeature(products []*catalog.Product, name string) error {
	var names, prods []string
	for _, p := range products {
		prods = append(prods, p.Name)
		for _, f := range p.Features() {
			if f.Name == name {
				return nil
			}
			if !slices.Contains(names, f.Name) {
				names = append(names, f.Name)
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("feature %q: %s has no optional features", name, strings.Join(prods, ", "))
	}
	slices.Sort(names)
	return fmt.Errorf("feature %q: %s has no such feature (features: %s)", name, strings.Join(prods, ", "), strings.Join(names, ", "))
}

// showTable prints one product's requirements. The terminal table keeps
// to what fits a screen; markdown, meant for documents, adds purpose and
// notes and lists every peer.
func showTable(w io.Writer, p *catalog.Product, markdown bool) error {
	header := []string{"ID", "Dir", "Proto", "Ports", "Peers", "Service", "Condition"}
	if markdown {
		header = append(header, "Purpose", "Notes")
	}
	rows := make([][]string, 0, len(p.Requirements))
	for _, r := range p.Requirements {
		row := []string{r.ID, string(r.Direction), string(r.Protocol), portsString(r.Ports),
			peersString(r.Peers, !markdown), r.Service, conditionString(r.Condition)}
		if markdown {
			row = append(row, r.Purpose, strings.Join(r.Notes, "; "))
		}
		rows = append(rows, row)
	}
	if err := renderTable(w, markdown, header, rows); err != nil {
		return err
	}
	feats := p.Features()
	if len(feats) == 0 {
		return nil
	}
	// The features decide which conditional rows apply: list them with
	// their defaults so that the reader knows what --with can change.
	frows := make([][]string, len(feats))
	for i, f := range feats {
		def := "off"
		if f.Default {
			def = "on"
		}
		frows[i] = []string{f.Name, def, f.Description}
	}
	fmt.Fprintln(w)
	return renderTable(w, markdown, []string{"Feature", "Default", "Description"}, frows)
}

// renderTable writes a table for a terminal, or for a Markdown document.
// Every cell is escaped for its sink first (escape.Terminal: one line, no
// control or bidi characters; escape.Markdown: the report's Markdown
// escaping, so an overlay's <script> or pipe stays text): cells hold
// catalog overlay text and names from captures.
func renderTable(out io.Writer, markdown bool, header []string, rows [][]string) error {
	// tablewriter drops write errors; ew keeps the first (a full disk,
	// a closed pipe) so the exit status says the output is incomplete.
	ew := &errWriter{w: out}
	var w io.Writer = ew
	var r tw.Renderer = renderer.NewBlueprint()
	esc := escape.Terminal
	if markdown {
		r = renderer.NewMarkdown()
		esc = escape.Markdown
	}
	for _, row := range rows {
		for i := range row {
			row[i] = esc(row[i])
		}
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(r),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	hdr := make([]any, len(header))
	for i, h := range header {
		hdr[i] = h
	}
	t.Header(hdr...)
	if err := t.Bulk(rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if ew.err != nil {
		return fmt.Errorf("write table: %w", ew.err)
	}
	return nil
}

// errWriter remembers the first write error and swallows the rest.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func portsString(ps []catalog.PortRange) string {
	if len(ps) == 0 {
		return "-"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// peersString joins the peers; short keeps the first three, since the
// document-listed update hosts of some rows run to twenty and more.
func peersString(ps []catalog.Peer, short bool) string {
	s := make([]string, 0, len(ps))
	for i, p := range ps {
		if short && i == 3 {
			s = append(s, fmt.Sprintf("(+%d more)", len(ps)-3))
			break
		}
		s = append(s, p.String())
	}
	return strings.Join(s, " ")
}

func conditionString(c *catalog.Condition) string {
	if c == nil {
		return ""
	}
	if c.Default {
		return c.Feature + " (default on)"
	}
	return c.Feature + " (default off)"
}

// problems prints every problem of a catalog or site file on stderr, one
// "file:line: field: what is wrong" line each (escaped for the terminal),
// and returns a one-line summary as the error. A single problem is the
// error itself.
func (a *app) problems(err error, path string) error {
	lines := problemLines(err)
	if len(lines) == 1 {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(a.stderr, l)
	}
	return &fileError{fmt.Sprintf("%s: %d problems (listed above)", escape.Terminal(path), len(lines)), err}
}

// problemLines are the problems of a catalog or site error, one line
// each, escaped for the terminal: the errors an errors.Join holds, each
// one problem whatever its text (a YAML key with a newline is one problem,
// shown with a visible \n), else the error itself.
func problemLines(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, escape.Terminal(strings.TrimSpace(e.Error())))
	}
	walk(err)
	return out
}

// oneArg accepts exactly one argument, with a usage error that says what
// is missing in words rather than "accepts 1 arg(s), received 0".
func oneArg(cmd, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s: give a %s", cmd, what)
		case len(args) > 1:
			return fmt.Errorf("%s: one %s at a time (got %d arguments)", cmd, strings.Fields(what)[0], len(args))
		}
		return nil
	}
}
