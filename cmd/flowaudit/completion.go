package main

import (
	"errors"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowaudit/flowaudit/analyze"
	"github.com/flowaudit/flowaudit/catalog"
)

// Shell completion has two halves. `flowaudit completion SHELL` is cobra's
// own command: it prints a script (cobra's generators) that the shell
// loads once, and each shell's help says how. The script calls the hidden
// `flowaudit __complete ARGS... PARTIAL` on every TAB, and the candidates
// come from the functions below: product and feature names from the
// catalog (with --catalog files), formats, statuses, backends, interfaces,
// and the file kinds each command reads.

// bashUserInstall completes cobra's bash help, which names only the
// system-wide directories, with the place that needs no root.
const bashUserInstall = `
Without root, bash-completion also loads it from your own directory:

	mkdir -p ~/.local/share/bash-completion/completions
	flowaudit completion bash > ~/.local/share/bash-completion/completions/flowaudit
`

// addCompletionCmd adds cobra's `completion` command (bash, zsh, fish and
// powershell subcommands, each with its install instructions) to root,
// which must have its output set: the scripts are written there. Without
// a shell it is a usage error, as `catalog` without a subcommand is.
func addCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	comp, _, err := root.Find([]string{"completion"})
	if err != nil || comp == root {
		return
	}
	comp.Use = "completion SHELL"
	comp.Long += "\nbash, zsh and fish complete product names, formats, statuses, features,\n" +
		"interfaces and the files each command reads.\n"
	comp.RunE = func(*cobra.Command, []string) error {
		return errors.New("completion: give a shell: bash, zsh, fish or powershell (flowaudit completion --help)")
	}
	for _, sh := range comp.Commands() {
		if sh.Name() == "bash" {
			sh.Long += bashUserInstall
		}
	}
}

// File kinds each command reads, for the shell to offer (by extension).
var (
	captureExts = []string{"pcap", "pcapng", "cap", "gz"}
	sessionExts = []string{"json", "session"} // gw1.session.json, gw1.session
	yamlExts    = []string{"yaml", "yml"}
)

// captureBackends are capture's --backend values (live.Start).
var captureBackends = []string{"auto", "ebpf", "afpacket"}

// commandFormats lists the --format values of each command that has the
// flag, by command path (a test checks that none is missing).
func commandFormats() map[string][]string {
	report := slices.Sorted(maps.Keys(reportFormats))
	return map[string][]string{
		"flowaudit replay":         report,
		"flowaudit report":         report,
		"flowaudit capture":        report,
		"flowaudit diff":           slices.Sorted(maps.Keys(diffFormats)),
		"flowaudit flows":          strings.Split(flowsFileFormats.names(), "|"),
		"flowaudit catalog show":   showFileFormats.sorted(),
		"flowaudit catalog export": exportFileFormats.sorted(),
	}
}

// noFileFlags take values that are no file names: the shell should not
// offer files for them.
var noFileFlags = []string{"host", "duration", "max-flows", "max-input-size", "node", "filter", "allow-admin", "port"}

// registerCompletions gives every command in root's tree its argument and
// flag candidates. run calls it only for a __complete request: cobra keeps
// flag completion functions in a map for the whole process.
func registerCompletions(root *cobra.Command, a *app) {
	formats := commandFormats()
	seen := map[*pflag.Flag]bool{}
	walkCommands(root, func(cmd *cobra.Command) {
		if fn := argCompleter(a, cmd.CommandPath()); fn != nil && cmd.ValidArgsFunction == nil {
			cmd.ValidArgsFunction = fn
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if seen[f] {
				return
			}
			seen[f] = true
			if fn := flagCompleter(a, cmd.CommandPath(), f.Name, formats); fn != nil {
				_ = cmd.RegisterFlagCompletionFunc(f.Name, fn) // the flag exists; registered once
			}
		})
	})
}

// walkCommands calls fn for cmd and every command below it.
func walkCommands(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		walkCommands(c, fn)
	}
}

// argCompleter is the positional-argument completion of the command at
// path, or nil for cobra's default (files).
func argCompleter(a *app, path string) cobra.CompletionFunc {
	switch path {
	case "flowaudit replay", "flowaudit flows":
		return fileExts(captureExts, -1)
	case "flowaudit report":
		return fileExts(sessionExts, -1)
	case "flowaudit diff":
		return fileExts(sessionExts, 2) // BEFORE AFTER: reports (.json) or sessions
	case "flowaudit catalog validate":
		return fileExts(yamlExts, -1)
	case "flowaudit catalog show", "flowaudit catalog export":
		return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return a.productCandidates(cmd, "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
		}
	case "flowaudit catalog list", "flowaudit capture", "flowaudit catalog":
		return cobra.NoFileCompletions
	}
	return nil
}

// fileExts offers files with the extensions exts, up to max arguments
// (-1: any number).
func fileExts(exts []string, max int) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if max >= 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// flagCompleter is the completion of flag name on the command at path, or
// nil for cobra's default (files).
func flagCompleter(a *app, path, name string, formats map[string][]string) cobra.CompletionFunc {
	switch name {
	case "product":
		return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			prefix, last, given := splitList(toComplete)
			return a.productCandidates(cmd, prefix, last, given), cobra.ShellCompDirectiveNoFileComp
		}
	case "with", "without":
		return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			prefix, last, given := splitList(toComplete)
			return a.featureCandidates(cmd, prefix, last, given), cobra.ShellCompDirectiveNoFileComp
		}
	case "format":
		return fixedList(formats[path], false)
	case "fail-on":
		if path == "flowaudit diff" {
			return fixedList(append(diffCategoryList(), "none"), true)
		}
		return fixedList(append(failOnStatuses(), "none"), true)
	case "backend":
		return fixedList(captureBackends, false)
	case "outcome":
		return fixedList(flowOutcomes, true)
	case "iface":
		return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return interfaceCandidates(), cobra.ShellCompDirectiveNoFileComp
		}
	case "site", "catalog":
		return fileExts(yamlExts, -1)
	}
	if slices.Contains(noFileFlags, name) {
		return cobra.NoFileCompletions
	}
	return nil
}

// fixedList offers values starting with what was typed; list says the
// flag takes a comma-separated list (each value completes after the last
// comma, and the ones given already are not offered again).
func fixedList(values []string, list bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		prefix, last, given := "", toComplete, []string(nil)
		if list {
			prefix, last, given = splitList(toComplete)
		}
		var out []cobra.Completion
		for _, v := range values {
			if strings.HasPrefix(v, last) && !slices.Contains(given, v) {
				out = append(out, prefix+v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// splitList splits a comma-separated value being typed ("blocked,pa")
// into what stays ("blocked,"), the part to complete ("pa") and the values
// given already.
func splitList(s string) (prefix, last string, given []string) {
	i := strings.LastIndexByte(s, ',')
	if i < 0 {
		return "", s, nil
	}
	return s[:i+1], s[i+1:], strings.Split(s[:i], ",")
}

// failOnStatuses are the statuses --fail-on accepts, in report order:
// analyze's, as far as analyze.ParseStatus takes them.
func failOnStatuses() []string {
	var out []string
	for _, st := range append(slices.Clone(analyze.Statuses), analyze.Inconclusive, analyze.Unexpected) {
		if _, ok := analyze.ParseStatus(string(st)); ok && !slices.Contains(out, string(st)) {
			out = append(out, string(st))
		}
	}
	return out
}

// diffCategoryList are diff's --fail-on categories.
func diffCategoryList() []string {
	out := make([]string, len(analyze.DiffCategories))
	for i, c := range analyze.DiffCategories {
		out[i] = string(c)
	}
	return out
}

// completionCatalog is the bundled catalog with the command's --catalog
// files overlaid; a file that does not load is left out (completion
// prints nothing but candidates).
func (a *app) completionCatalog(cmd *cobra.Command) *catalog.Catalog {
	var files []string
	if f := cmd.Flag("catalog"); f != nil {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			files = sv.GetSlice()
		}
	}
	if c, err := a.loadCatalog(files); err == nil {
		return c
	}
	c, err := catalog.Bundled()
	if err != nil {
		return &catalog.Catalog{}
	}
	return c
}

// productCandidates are the catalog's product names starting with last,
// each behind prefix and with its title, leaving out those in given.
func (a *app) productCandidates(cmd *cobra.Command, prefix, last string, given []string) []cobra.Completion {
	var out []cobra.Completion
	for _, p := range a.completionCatalog(cmd).Products {
		if strings.HasPrefix(p.Name, last) && !slices.Contains(given, p.Name) {
			out = append(out, cobra.CompletionWithDesc(prefix+p.Name, p.Title))
		}
	}
	slices.Sort(out)
	return out
}

// featureCandidates are the optional features of the products given with
// --product (of every product when none is), as productCandidates.
func (a *app) featureCandidates(cmd *cobra.Command, prefix, last string, given []string) []cobra.Completion {
	var products []string
	if f := cmd.Flag("product"); f != nil {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			products = sv.GetSlice()
		}
	}
	seen := map[string]bool{}
	var out []cobra.Completion
	for _, p := range a.completionCatalog(cmd).Products {
		if len(products) > 0 && !slices.Contains(products, p.Name) {
			continue
		}
		for _, ft := range p.Features() {
			if seen[ft.Name] || !strings.HasPrefix(ft.Name, last) || slices.Contains(given, ft.Name) {
				continue
			}
			seen[ft.Name] = true
			out = append(out, cobra.CompletionWithDesc(prefix+ft.Name, p.Name+": "+ft.Description))
		}
	}
	slices.Sort(out)
	return out
}

// interfaceCandidates are the host's network interfaces, each with its
// first addresses: the gateway's interface is the one with its address.
func interfaceCandidates() []cobra.Completion {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	out := make([]cobra.Completion, 0, len(ifs))
	for _, ifc := range ifs {
		var addrs []string
		if as, err := ifc.Addrs(); err == nil {
			for _, ad := range as[:min(len(as), 2)] {
				addrs = append(addrs, ad.String())
			}
		}
		desc := strings.Join(addrs, " ")
		if ifc.Flags&net.FlagUp == 0 {
			desc = strings.TrimSpace("down " + desc)
		}
		out = append(out, cobra.CompletionWithDesc(ifc.Name, desc))
	}
	return out
}
