package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowaudit/flowaudit/catalog"
)

// complete runs `flowaudit __complete args...` as the shell scripts do and
// returns the candidates (descriptions dropped) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), append([]string{cobra.ShellCompRequestCmd}, args...), &out, &errb); err != nil {
		t.Fatalf("__complete %q: %v (%s)", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %q: no directive line in %q", args, out.String())
	}
	var cands []string
	for _, l := range lines[:len(lines)-1] {
		cands = append(cands, strings.SplitN(l, "\t", 2)[0])
	}
	return cands, lines[len(lines)-1]
}

// TestCompletion: what TAB offers after each flag and argument, through
// cobra's __complete (what the bash, zsh and fish scripts call).
func TestCompletion(t *testing.T) {
	bundled, err := catalog.Bundled()
	if err != nil {
		t.Fatal(err)
	}
	products := bundled.Names()
	overlay := filepath.Join(t.TempDir(), "extra.yaml")
	if err := os.WriteFile(overlay, []byte(completionTestProduct), 0o644); err != nil {
		t.Fatal(err)
	}
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Fatalf("no interfaces to complete: %v", err)
	}
	const (
		noFile  = ":4"  // ShellCompDirectiveNoFileComp
		fileExt = ":8"  // ShellCompDirectiveFilterFileExt: the candidates are extensions
		files   = ":0"  // ShellCompDirectiveDefault: the shell offers files
		exact   = false // want is the whole list
		subset  = true  // want is part of the list
	)
	for _, tc := range []struct {
		args      []string
		want      []string
		partial   bool
		directive string
	}{
		{[]string{"replay", "-p", ""}, products, exact, noFile},
		{[]string{"replay", "--product", "mail"}, []string{"mailcleaner"}, exact, noFile},
		{[]string{"replay", "-p", "mailcleaner,"}, prefixed("mailcleaner,", without(products, "mailcleaner")), exact, noFile},
		{[]string{"replay", "--catalog", overlay, "-p", ""}, append([]string{"testmail"}, products...), subset, noFile},
		{[]string{"report", "-p", "sp"}, []string{"spamexperts"}, exact, noFile},
		{[]string{"capture", "-p", ""}, products, exact, noFile},
		{[]string{"diff", "-p", ""}, products, exact, noFile},
		{[]string{"catalog", "show", ""}, products, exact, noFile},
		{[]string{"catalog", "--catalog", overlay, "export", "test"}, []string{"testmail"}, exact, noFile},
		{[]string{"catalog", "show", "mailcleaner", ""}, nil, exact, noFile},
		{[]string{"replay", "-p", "mailcleaner", "--with", ""}, []string{"cluster", "premium-support"}, exact, noFile},
		{[]string{"replay", "-p", "mailcleaner", "--without", "cluster,"}, []string{"cluster,premium-support"}, exact, noFile},
		{[]string{"replay", "-f", ""}, []string{"auto", "html", "json", "markdown", "table"}, exact, noFile},
		{[]string{"report", "--format", "ma"}, []string{"markdown"}, exact, noFile},
		{[]string{"diff", "-f", ""}, []string{"auto", "html", "json", "markdown", "table"}, exact, noFile},
		{[]string{"flows", "-f", ""}, []string{"table", "json", "zeek"}, exact, noFile},
		{[]string{"catalog", "show", "-f", ""}, []string{"json", "markdown", "table"}, exact, noFile},
		{[]string{"catalog", "export", "-f", ""}, []string{"ip6tables", "iptables", "nftables"}, exact, noFile},
		{[]string{"replay", "--fail-on", ""}, []string{"blocked", "partial", "never-seen", "ok", "not-applicable", "unexpected", "none"}, subset, noFile},
		{[]string{"replay", "--fail-on", "blocked,p"}, []string{"blocked,partial"}, exact, noFile},
		{[]string{"capture", "--fail-on", "never-seen,u"}, []string{"never-seen,unexpected"}, exact, noFile},
		{[]string{"diff", "--fail-on", "newly-"}, []string{"newly-failing", "newly-unexpected"}, exact, noFile},
		{[]string{"capture", "--backend", ""}, []string{"auto", "ebpf", "afpacket"}, exact, noFile},
		{[]string{"capture", "-i", ""}, interfaceNames(ifs), exact, noFile},
		{[]string{"capture", "--iface", "l"}, []string{"lo"}, subset, noFile},
		{[]string{"replay", ""}, []string{"pcap", "pcapng", "cap", "gz"}, exact, fileExt},
		{[]string{"flows", "-f", "json", "a.pcap", ""}, []string{"pcap", "pcapng", "cap", "gz"}, exact, fileExt},
		{[]string{"report", ""}, []string{"json", "session"}, exact, fileExt},
		{[]string{"diff", "before.json", ""}, []string{"json", "session"}, exact, fileExt},
		{[]string{"diff", "before.json", "after.json", ""}, nil, exact, noFile},
		{[]string{"catalog", "validate", ""}, []string{"yaml", "yml"}, exact, fileExt},
		{[]string{"replay", "--site", ""}, []string{"yaml", "yml"}, exact, fileExt},
		{[]string{"catalog", "export", "mailcleaner", "--site", ""}, []string{"yaml", "yml"}, exact, fileExt},
		{[]string{"replay", "--catalog", ""}, []string{"yaml", "yml"}, exact, fileExt},
		{[]string{"replay", "-o", ""}, nil, exact, files},
		{[]string{"replay", "--host", ""}, nil, exact, noFile},
		{[]string{"capture", ""}, nil, exact, noFile},
		{[]string{"completion", ""}, []string{"bash", "fish", "powershell", "zsh"}, exact, noFile},
		{[]string{""}, []string{"capture", "catalog", "completion", "diff", "flows", "help", "replay", "report"}, exact, noFile},
	} {
		got, dir := complete(t, tc.args...)
		ok := slices.Equal(got, tc.want)
		if tc.partial {
			ok = len(tc.want) > 0
			for _, w := range tc.want {
				ok = ok && slices.Contains(got, w)
			}
		}
		if !ok || dir != tc.directive {
			t.Errorf("complete %q: %q %s, want %q %s (subset: %v)", tc.args, got, dir, tc.want, tc.directive, tc.partial)
		}
	}
}

// completionTestProduct is a one-row product for --catalog overlays.
const completionTestProduct = `product: testmail
title: Test mail gateway
document: test.txt
rows:
  - name: smtp
    direction: in
    protocol: tcp
    ports: [25]
    peers: [any]
    service: SMTP
    purpose: mail in
    source:
      text: "TCP/25 in"
`

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

func without(names []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == drop })
}

func interfaceNames(ifs []net.Interface) []string {
	out := make([]string, len(ifs))
	for i, ifc := range ifs {
		out[i] = ifc.Name
	}
	return out
}

// TestCompletionCovers: every command with --format has its formats
// listed for completion, and each value offered for --format, --fail-on
// and --backend is one the command accepts (its help names it, and for
// the commands that read files, running with it is no usage error).
func TestCompletionCovers(t *testing.T) {
	formats := commandFormats()
	root := newRootCmd(&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	walkCommands(root, func(cmd *cobra.Command) {
		f := cmd.LocalFlags().Lookup("format")
		if f == nil {
			return
		}
		values, ok := formats[cmd.CommandPath()]
		if !ok || len(values) == 0 {
			t.Errorf("%s has --format but commandFormats lists no values for it", cmd.CommandPath())
		}
		for _, v := range values {
			if !strings.Contains(f.Usage, v) {
				t.Errorf("%s --format: completion offers %q, the help does not name it: %q", cmd.CommandPath(), v, f.Usage)
			}
		}
	})
	capture, _, err := root.Find([]string{"capture"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range captureBackends {
		if u := capture.Flags().Lookup("backend").Usage; !strings.Contains(u, b) {
			t.Errorf("capture --backend: completion offers %q, the help does not name it: %q", b, u)
		}
	}
	for _, v := range formats["flowaudit flows"] {
		if _, _, err := runCLI(t, "flows", "-f", v, "../../testdata/example/gateway.pcap"); err != nil {
			t.Errorf("flows -f %s: %v", v, err)
		}
	}
	for _, st := range append(failOnStatuses(), "none") {
		if _, err := parseFailOn(st); err != nil {
			t.Errorf("--fail-on %s (offered by completion): %v", st, err)
		}
	}
	for _, c := range append(diffCategoryList(), "none") {
		if _, err := parseDiffFailOn(c); err != nil {
			t.Errorf("diff --fail-on %s (offered by completion): %v", c, err)
		}
	}
	// Every flag of every command is either completed or files on
	// purpose: a flag whose values are no file names must say so.
	walkCommands(root, func(cmd *cobra.Command) {
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" || f.Name == "help" || f.Name == "version" {
				return
			}
			fn := flagCompleter(nil, cmd.CommandPath(), f.Name, formats)
			if fn == nil && !slices.Contains([]string{"output", "session", "write-pcap"}, f.Name) {
				t.Errorf("%s --%s: no completion, and it takes no file (add it to noFileFlags or complete it)", cmd.CommandPath(), f.Name)
			}
		})
	})
}

// TestCompletionScripts: the scripts of `flowaudit completion SHELL` are
// what cobra generates for this tree, the command without a shell is a
// usage error, and each shell's help says how to install its script.
func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "__start_flowaudit",
		"zsh":        "#compdef flowaudit",
		"fish":       "complete -c flowaudit",
		"powershell": "Register-ArgumentCompleter",
	} {
		out, _, err := runCLI(t, "completion", shell)
		if err != nil || !strings.Contains(out, marker) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: %v; script without %q or __complete:\n%.300s", shell, err, marker, out)
		}
		help, _, err := runCLI(t, "completion", shell, "--help")
		if err != nil || !strings.Contains(help, "To load completions") || !strings.Contains(help, "flowaudit completion "+shell) {
			t.Errorf("completion %s --help: %v; no install instructions:\n%s", shell, err, help)
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "extra"}} {
		if _, _, err := runCLI(t, args...); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want a one-line usage error", args, err)
		}
	}
	help, _, _ := runCLI(t, "completion", "bash", "--help")
	if !strings.Contains(help, "~/.local/share/bash-completion/completions/flowaudit") {
		t.Errorf("completion bash --help does not say how to install without root:\n%s", help)
	}
}

// TestCompletionBash sources the generated bash script in bash, with the
// real binary on PATH, and completes `flowaudit replay -p ` the way bash
// does on TAB (COMP_WORDS, COMP_CWORD, then the registered function). The
// script escapes what it inserts for the shell: "blocked\,never-seen" is
// typed as blocked,never-seen.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := flowauditBinary(t)
	script, _, err := runCLI(t, "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flowaudit.bash"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string   // what was typed
		want []string // COMPREPLY
	}{
		{"flowaudit replay -p mail", []string{"mailcleaner"}},
		{"flowaudit replay --fail-on blocked,ne", []string{`blocked\,never-seen`}},
		{"flowaudit catalog ex", []string{"export"}},
		{"flowaudit capture --backend e", []string{"ebpf"}},
	} {
		words := strings.Fields(tc.line)
		drive := bashCompletionLib + `
source flowaudit.bash
COMP_WORDS=(` + shellQuote(words) + `)
COMP_CWORD=` + strconv.Itoa(len(words)-1) + `
COMP_LINE="` + tc.line + `"
COMP_POINT=${#COMP_LINE}
__start_flowaudit flowaudit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", drive)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		got := strings.Fields(string(out))
		if err != nil || !slices.Equal(got, tc.want) || stderr.Len() > 0 {
			t.Errorf("bash TAB after %q: %q (%v; stderr %q), want %q", tc.line, got, err, stderr.String(), tc.want)
		}
	}
}

// bashCompletionLib loads the bash-completion package when installed
// (its _get_comp_words_by_ref is what cobra's script calls), else defines
// a stand-in: the words split on blanks only, as they are in these cases.
const bashCompletionLib = `if [ -r /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
else
  _get_comp_words_by_ref() {
    cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  }
fi
compopt() { :; } # the builtin works only while bash itself completes`

func shellQuote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
