package train

// A config file's text: its encoding (UTF-8, or refused with the way to
// convert it), the lines its syntax errors are at, and a second document.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"gptctl/data"
)

// notUTF8 refuses a config in UTF-16 or UTF-32 without a byte order mark,
// which the YAML decoder would read as keys cut short (n_ where n_layer is
// written): one that holds a NUL byte, as they do for every ASCII
// character. (With its byte order mark, UTF-16 is decoded as such.) It
// refuses a config in another 8-bit encoding (Latin-1 café), which the
// decoder refuses without a line, at the line of its first byte that is not
// UTF-8.
func notUTF8(b []byte) error {
	utf32 := bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}) || bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF})
	if !utf32 && (bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF})) {
		return nil // UTF-16 with its byte order mark: the decoder reads it
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		what := "the file is UTF-16 or UTF-32, or not text; save it as UTF-8"
		if note := data.WideNote(b); note != "" {
			what = "the file " + note
		}
		return fmt.Errorf("line %d: a NUL byte, which UTF-8 text does not hold: %s", lineAt(b, i), what)
	}
	if i := invalidUTF8(b); i >= 0 {
		return fmt.Errorf("line %d: byte 0x%02X is not UTF-8: the file is in another encoding, such as Latin-1; gptctl reads UTF-8: convert it, e.g. with iconv -f LATIN1 -t UTF-8", lineAt(b, i), b[i])
	}
	return nil
}

// invalidUTF8 is the offset of the first byte of b that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// lineAt is the line of the config src that holds its byte i, counted
// from 1 by YAML's line breaks: LF, CRLF and a lone CR.
func lineAt(src []byte, i int) int {
	before := bytes.ReplaceAll(src[:i], []byte("\r\n"), []byte("\n"))
	return bytes.Count(before, []byte("\n")) + bytes.Count(before, []byte("\r")) + 1
}

// moreDocuments is the problem of the documents dec holds after the
// config's first, of the config src: "" where they are empty (a trailing
// ---, comments), else a second document refused, or its syntax error.
func moreDocuments(dec *yaml.Decoder, src []byte) string {
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil { // a syntax error past the first document
			return syntaxLine(strings.TrimPrefix(err.Error(), "yaml: "), src)
		}
		if len(next.Content) == 0 || next.Content[0].Kind == yaml.ScalarNode && next.Content[0].Tag == "!!null" {
			continue
		}
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return fmt.Sprintf("line %d: a second YAML document (after ---), which would be ignored: a config is one document", line)
	}
}

// syntaxLine gives a syntax error of the YAML library, msg, over the
// config src, the line a user looks for: the library counts the lines of
// its parser's errors from 0 (line 1's unnumbered), and names the start of
// the scalar a misplaced tab follows, not the tab's line.
func syntaxLine(msg string, src []byte) string {
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		return aliasLine(m[1], src)
	}
	line, problem := 0, msg
	if m := syntaxAt.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		problem = m[2]
	}
	switch {
	case slices.Contains(parserProblems, problem):
		line++
	case !slices.ContainsFunc(scannerProblems, func(p string) bool { return strings.HasPrefix(problem, p) }):
		return msg // not a syntax error: a type error's line is right
	case line == 0:
		line = 1
	}
	text := lfText(src)
	if !utf8.ValidString(text) {
		return fmt.Sprintf("line %d: %s", line, problem)
	}
	// At the end of the text the parser's mark is past its last line.
	if last := strings.Count(strings.TrimRight(text, " \t\n"), "\n") + 1; line > last {
		line = last
	}
	lines := strings.Split(text, "\n")
	if strings.HasPrefix(problem, "found a tab character") {
		for i := max(line-1, 0); i < len(lines); i++ {
			if tabIndented(lines[i]) {
				line = i + 1
				break
			}
		}
	}
	if tabProblem(problem) && line <= len(lines) && tabIndented(lines[line-1]) {
		problem += " (a tab indents the line: YAML indents with spaces)"
	}
	return fmt.Sprintf("line %d: %s", line, problem)
}

// tabIndented reports whether a tab is in the indentation of line l.
func tabIndented(l string) bool {
	return strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t")
}

// tabProblem reports whether the YAML library's problem is one a tab in
// the indentation makes: on the first line of a mapping it starts no token.
func tabProblem(problem string) bool {
	return strings.HasPrefix(problem, "found a tab character") || strings.HasPrefix(problem, "found character that cannot start any token")
}

// utf16Text is a config's text as UTF-8: src decoded from UTF-16 where its
// byte order mark says so (the YAML library reads such a file), else src.
func utf16Text(src []byte) string {
	var big bool
	switch {
	case bytes.HasPrefix(src, []byte{0xff, 0xfe}):
	case bytes.HasPrefix(src, []byte{0xfe, 0xff}):
		big = true
	default:
		return string(src)
	}
	u := make([]uint16, (len(src)-2)/2)
	for i := range u {
		a, b := uint16(src[2+2*i]), uint16(src[3+2*i])
		if u[i] = b<<8 | a; big {
			u[i] = a<<8 | b
		}
	}
	return string(utf16.Decode(u))
}

// parserProblems are the syntax errors the YAML parser (not its scanner)
// reports: it counts their lines from 0 where the scanner counts from 1.
var parserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"did not find expected key", "did not find expected node content",
	"found duplicate %TAG directive", "found duplicate %YAML directive",
	"found incompatible YAML document", "found undefined tag handle",
}

// scannerProblems are the scanner's, which the library counts from 1.
var scannerProblems = []string{
	"block sequence entries are not allowed", "could not find expected",
	"did not find expected", "did not find the expected", "exceeded max depth",
	"found a tab character", "found an indentation indicator", "found character that cannot start",
	"found extremely long", "found invalid Unicode", "found unexpected",
	"found unknown", "mapping keys are not allowed", "mapping values are not allowed",
}

var syntaxAt = regexp.MustCompile(`^line (\d+): (.*)$`)

// lfText is the config src as UTF-8 text with YAML's line breaks, LF,
// CRLF and a lone CR, as LF: the lines the library counts.
func lfText(src []byte) string {
	return strings.ReplaceAll(strings.ReplaceAll(utf16Text(src), "\r\n", "\n"), "\r", "\n")
}

// unknownAnchor is the library's error for an alias without its anchor,
// which names no line.
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// aliasLine is the error of an alias, *name, that no anchor &name before
// it defines, at the line of the alias's first use in the config src.
func aliasLine(name string, src []byte) string {
	problem := fmt.Sprintf("*%s refers to an anchor &%s that no line before it defines (a value starting with * must be quoted: \"*%[1]s\")", name, name)
	use := regexp.MustCompile(`(^|[\s\[{,:-])\*` + regexp.QuoteMeta(name) + `($|[\s,\]}])`)
	for i, l := range strings.Split(lfText(src), "\n") {
		if use.MatchString(l) {
			return fmt.Sprintf("line %d: %s", i+1, problem)
		}
	}
	return problem
}

// LostKeys lists, in the order the file at copy holds them, the keys
// (dotted where nested: task.max_len) of the job config at copy that the
// one at path lacks. gptctl writes a run's config with every key, and its
// checkpoint a copy, so a key the run's own lacks was cut off (a file
// truncated at a line's end still reads as YAML) and a resume would take
// its default instead. A file that cannot be read or parsed gives nil:
// reading the config reports it.
func LostKeys(path, copy string) []string {
	keys := func(name string) []string {
		b, err := os.ReadFile(name)
		var doc yaml.Node
		if err != nil || yaml.Unmarshal(b, &doc) != nil || len(doc.Content) != 1 {
			return nil
		}
		var out []string
		var walk func(prefix string, n *yaml.Node)
		walk = func(prefix string, n *yaml.Node) {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := prefix+n.Content[i].Value, n.Content[i+1]
				if v.Kind == yaml.MappingNode && len(v.Content) > 0 {
					walk(k+".", v)
				} else {
					out = append(out, k)
				}
			}
		}
		if doc.Content[0].Kind == yaml.MappingNode {
			walk("", doc.Content[0])
		}
		return out
	}
	have := keys(path)
	if have == nil {
		return nil
	}
	var lost []string
	for _, k := range keys(copy) {
		if !slices.Contains(have, k) {
			lost = append(lost, k)
		}
	}
	return lost
}
