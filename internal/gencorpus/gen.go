// Package gencorpus generates gptctl's built-in training corpus: short
// stories, dialogues, letters, lists and descriptions about a dozen recurring
// characters in three small towns, produced from a small English grammar.
//
// The text is written by this program, not copied from anywhere, so the
// project may redistribute it. Output depends only on the seed and size: the
// random numbers come from a SplitMix64 generator defined here, so neither a
// Go release nor a platform can change the corpus.
package gencorpus

import (
	"strings"
)

// DefaultSeed and DefaultSize produce data/corpus/builtin.txt.
const (
	DefaultSeed = 1
	DefaultSize = 450_000
)

// LineWidth is the column at which paragraphs are wrapped.
const LineWidth = 72

// Generate returns whole documents, separated by blank lines, until the text
// is at least size bytes long. The same seed and size give the same text.
func Generate(seed int64, size int) string {
	g := &gen{r: rng{s: uint64(seed)}}
	var b strings.Builder
	kinds := []func(*gen) string{
		(*gen).story, (*gen).story, (*gen).story,
		(*gen).dialogue, (*gen).dialogue,
		(*gen).description, (*gen).letter, (*gen).list, (*gen).diary,
	}
	for b.Len() < size {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(kinds[g.r.intn(len(kinds))](g))
	}
	return b.String()
}

// rng is SplitMix64 (Steele, Lea and Flood 2014): tiny, fast and fixed.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n); the modulo bias is irrelevant here.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// gen carries the random state through the templates.
type gen struct{ r rng }

func (g *gen) chance(percent int) bool { return g.r.intn(100) < percent }

// pick returns a random element of list.
func pick[T any](g *gen, list []T) T { return list[g.r.intn(len(list))] }

// two returns two different people.
func (g *gen) two() (person, person) {
	i := g.r.intn(len(people))
	j := (i + 1 + g.r.intn(len(people)-1)) % len(people)
	return people[i], people[j]
}

// a prefixes a phrase with "a" or "an".
func a(phrase string) string {
	if phrase != "" && strings.ContainsRune("aeiou", rune(phrase[0])) {
		return "an " + phrase
	}
	return "a " + phrase
}

// count returns "one apple", "a pear" or "three pears".
func (g *gen) count(n noun) (string, bool) {
	if g.chance(30) {
		return a(n.one), false
	}
	return pick(g, numbers) + " " + n.many, true
}

// capital upper-cases the first letter.
func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// title capitalises every word but "of" and "the" after the first.
func title(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if i == 0 || (w != "of" && w != "the") {
			words[i] = capital(w)
		}
	}
	return strings.Join(words, " ")
}

// para joins sentences and wraps them at LineWidth.
func para(sentences ...string) string {
	return wrap(strings.Join(sentences, " "), LineWidth)
}

// wrap breaks text into lines of at most width columns at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(text) {
		switch {
		case col == 0:
		case col+1+len(w) > width:
			b.WriteByte('\n')
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// doc assembles a title and paragraphs into one document.
func doc(title string, paras ...string) string {
	return title + "\n\n" + strings.Join(paras, "\n\n") + "\n"
}

// quote writes a line of speech with its speaker before or after it.
func (g *gen) quote(who, line string) string {
	said := pick(g, saids)
	if strings.HasSuffix(line, "?") {
		said = "asked"
	}
	if g.chance(50) {
		return who + " " + said + ", \"" + line + "\""
	}
	if end := line[len(line)-1]; end == '.' {
		line = line[:len(line)-1] + ","
	}
	return "\"" + line + "\" " + said + " " + who + "."
}
