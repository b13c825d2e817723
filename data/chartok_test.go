package data

import "testing"

// Characters in messages show one by one: a combining mark is escaped, as
// it would draw over the quote or the character before it, and so is what
// strconv.Quote escapes (a zero-width joiner, a control); a long list is
// cut at 20 with its count.
func TestRuneList(t *testing.T) {
	for _, c := range []struct {
		in   []rune
		want string
	}{
		{[]rune("日本"), `"日本"`},
		{[]rune{'e', 0x301, 0x200d, '\t', 0x1d167}, `"e\u0301\u200d\t\U0001d167"`},
		{[]rune("abcdefghijklmnopqrstuvwxyz"), `"abcdefghijklmnopqrst"... (26 in all)`},
	} {
		if got := RuneList(c.in); got != c.want {
			t.Errorf("RuneList(%q) = %s, want %s", string(c.in), got, c.want)
		}
	}
}
