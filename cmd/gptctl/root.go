package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NewCmdRoot builds the gptctl command tree.
func NewCmdRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "gptctl",
		Short: "Pretrain and finetune GPT models, on the CPU or a CUDA GPU",
		Long: `gptctl pretrains GPT models (GPT-1 post-LN or GPT-2 pre-LN) on text corpora and
finetunes them on labeled tasks. It is one binary, driven by YAML configs, made
for batch jobs: clear exit statuses (0 done, 1 runtime failure, 2 bad usage,
config or input, 3 the loss or gradients stopped being finite),
machine-readable metrics, checkpoints that resume.`,
		Example: `  gptctl pretrain                                  # a small model on the built-in corpus
  gptctl pretrain -c configs/shakespeare-char.yaml --data tinyshakespeare.txt --out runs/shk
  gptctl generate --model runs/shk --prompt "ROMEO:" --max-new-tokens 200
  gptctl eval --model runs/shk --data heldout.txt`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v, _ := cmd.Flags().GetBool("version"); v {
				return printVersion(cmd)
			}
			return cmd.Help()
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Flags().BoolP("version", "v", false, "print the version, as gptctl version does")
	root.SuggestionsMinimumDistance = 2 // unknown commands name the nearest (usageArgs)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{flagValueError(err)}
	})
	root.AddCommand(
		NewCmdPretrain(nil),
		NewCmdFinetune(nil),
		NewCmdEval(nil),
		NewCmdPredict(nil),
		NewCmdGenerate(nil),
		NewCmdTokenizer(),
		NewCmdData(),
		NewCmdBench(nil),
		NewCmdReport(),
		NewCmdVersion(),
	)
	root.SetHelpCommand(newCmdHelp())
	return root
}

// newCmdHelp is cobra's help command, except that a topic naming no command
// is a usage error (cobra prints the root's help and exits 0).
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Long:    "help prints the help of the command its words name.",
		Example: "  gptctl help pretrain\n  gptctl help data prepare",
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() || sub.Name() == "help" {
					names = append(names, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return &usageError{fmt.Errorf("unknown help topic %q: gptctl help lists the commands", strings.Join(args, " "))}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// finishTree adds cobra's completion command, which writes to the root's
// output as set when it is added, and refuses unknown subcommands.
func finishTree(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	shells := map[string]string{
		"bash":       "source <(gptctl completion bash)",
		"zsh":        `gptctl completion zsh > "${fpath[1]}/_gptctl"`,
		"fish":       "gptctl completion fish > ~/.config/fish/completions/gptctl.fish",
		"powershell": "gptctl completion powershell | Out-String | Invoke-Expression",
	}
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = "  gptctl completion bash > /etc/bash_completion.d/gptctl\n  " + shells["zsh"]
		for _, sh := range c.Commands() {
			sh.Example = "  " + shells[sh.Name()]
			if sh.Args != nil { // cobra's own check: a stray word is a usage error (exit 2)
				sh.Args = usageArgs(sh.Args)
			}
		}
	}
	refuseUnknownSubcommands(root)
	completeFlagValues(root)
}

// refuseUnknownSubcommands makes a command that only groups others (data,
// tokenizer, completion) fail on a word that names none of them, or on no
// word: cobra would print its help and exit 0, so a batch job with a
// mistyped or missing subcommand (source <(gptctl completion)) would carry
// on. --help prints the help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c == c.Root() || !c.HasSubCommands() || c.Runnable() {
		return
	}
	names := func(cmd *cobra.Command) string {
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return strings.Join(names, ", ")
	}
	c.Args = func(cmd *cobra.Command, args []string) error { // "unknown command" for any word
		if len(args) == 0 {
			return &usageError{fmt.Errorf("%s: name a command: one of %s (%s --help says what each does)", cmd.CommandPath(), names(cmd), cmd.CommandPath())}
		}
		err := fmt.Errorf("unknown command %q for %q (one of: %s)", args[0], cmd.CommandPath(), names(cmd))
		if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
			err = fmt.Errorf("%w; did you mean %s?", err, strings.Join(near, " or "))
		}
		return &usageError{err}
	}
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

// flagValues are the values a shell completes for flags that take one of
// a few words, by flag name (and by command, where they differ).
var flagValues = map[string][]string{
	"device":        {"auto", "cpu", "cuda"},
	"split":         {"val", "train"},
	"report/format": {"png", "svg", "html"},
	"format":        {"tsv", "csv", "jsonl"},
}

// completeFlagValues registers flagValues with every command that has such
// a flag.
func completeFlagValues(c *cobra.Command) {
	for _, sub := range c.Commands() {
		completeFlagValues(sub)
	}
	for name := range map[string]bool{"device": true, "split": true, "format": true} {
		if c.Flags().Lookup(name) == nil {
			continue
		}
		vals, ok := flagValues[c.Name()+"/"+name]
		if !ok {
			vals = flagValues[name]
		}
		if c.Flags().Lookup(name).Value.Type() == "stringSlice" { // a comma-separated list: report's --format
			c.RegisterFlagCompletionFunc(name, listCompletions(vals))
			continue
		}
		c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp))
	}
}

// listCompletions completes the last entry of a comma-separated list of
// vals, offering those the list does not hold yet after the ones it does.
func listCompletions(vals []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		i := strings.LastIndexByte(toComplete, ',')
		done, last := strings.Split(toComplete[:i+1], ","), toComplete[i+1:]
		var out []cobra.Completion
		for _, v := range vals {
			if strings.HasPrefix(v, last) && !slices.Contains(done, v) {
				out = append(out, toComplete[:i+1]+v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace // the list may go on
	}
}

// pathFlags are the flags that name a file, directory or device: given
// empty (an unset variable in a script), or as bytes that are not UTF-8,
// they are refused (empty would read as not given, and such a path cannot
// pass through the YAML of a config).
var pathFlags = []string{"config", "data", "init", "out", "model", "task", "prompt-file", "device", "cpuprofile"}

// checkPathFlags refuses an empty or non-UTF-8 value of a path flag cmd has.
func checkPathFlags(cmd *cobra.Command) error {
	for _, name := range pathFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed || f.Value.Type() != "string" {
			continue
		}
		switch v := f.Value.String(); {
		case v == "":
			return &usageError{fmt.Errorf("--%s is empty: give it a value, or leave the flag out", name)}
		case !utf8.ValidString(v):
			return &usageError{fmt.Errorf("--%s %q is not valid UTF-8: give the file a UTF-8 name (or a link to it under one)", name, v)}
		}
	}
	return nil
}

// requireFlags returns a usage error naming the first empty required flag.
func requireFlags(flags ...string) error {
	for i := 0; i+1 < len(flags); i += 2 {
		if flags[i+1] == "" {
			return &usageError{fmt.Errorf("required flag --%s is not set", flags[i])}
		}
	}
	return nil
}

// usageArgs marks argument-count errors as usage errors (exit status 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		switch {
		case err == nil:
			return nil
		case len(args) > 0 && !cmd.HasSubCommands() && strings.HasPrefix(err.Error(), "unknown command"):
			// cobra.NoArgs's words, for a command that takes flags only.
			msg := fmt.Sprintf("unexpected argument %q: %s takes flags only", args[0], cmd.CommandPath())
			if cmd.Flags().Lookup("data") != nil {
				msg += " (a glob after --data that the shell expands gives several words: quote it, --data 'dir/*.txt')"
			}
			return &usageError{errors.New(msg)}
		case len(args) > 0 && cmd.HasSubCommands():
			if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
				err = fmt.Errorf("%w (did you mean %s?)", err, strings.Join(near, " or "))
			}
		}
		return &usageError{err}
	}
}

// flagValueError says in words what a flag's number or boolean should be,
// where pflag quotes strconv ("strconv.ParseUint: parsing "-1": invalid
// syntax"), and which flag was given twice (onceFlag); other errors pass
// through.
func flagValueError(err error) error {
	var bad *pflag.InvalidValueError
	var num *strconv.NumError
	var twice *givenTwice
	if errors.As(err, &bad) && errors.As(err, &twice) {
		return fmt.Errorf("--%s given twice (%q, then %q): %s", bad.GetFlag().Name, twice.first, bad.GetValue(), twice.hint)
	}
	if !errors.As(err, &bad) || !errors.As(err, &num) {
		return err
	}
	want := map[string]string{"int": "an integer", "int64": "an integer", "uint": "a whole number, 0 or more",
		"uint64": "a whole number, 0 or more", "float32": "a number", "float64": "a number", "bool": "true or false"}[bad.GetFlag().Value.Type()]
	switch {
	case want == "":
		return err
	case errors.Is(num.Err, strconv.ErrRange):
		return fmt.Errorf("--%s %s is out of range (want %s)", bad.GetFlag().Name, bad.GetValue(), want)
	}
	return fmt.Errorf("--%s %s is not %s", bad.GetFlag().Name, bad.GetValue(), want)
}
