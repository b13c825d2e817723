package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// trainTiny trains a BPE of vocabSize on text written to a temp file.
func trainTiny(tb testing.TB, text string, vocabSize int) *BPE {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "train.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	tok, err := TrainBPE([]string{path}, vocabSize, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func smallText() string { return BuiltinCorpus()[:100_000] }

func TestTrainBPE(t *testing.T) {
	text := smallText()
	tok := trainTiny(t, text, 600)
	if tok.VocabSize() != 600 || tok.EOT() != 599 || tok.Decode([]int{599}) != EndOfText {
		t.Fatalf("vocab %d, eot %d", tok.VocabSize(), tok.EOT())
	}
	ids := tok.Encode(text)
	if got := tok.Decode(ids); got != text {
		t.Fatal("round trip of the training text failed")
	}
	if ratio := float64(len(text)) / float64(len(ids)); ratio < 2 {
		t.Fatalf("%.2f bytes per token: the vocab barely compresses", ratio)
	} else {
		t.Logf("%d bytes -> %d tokens (%.2f bytes/token)", len(text), len(ids), ratio)
	}
	again := trainTiny(t, text, 600)
	if !slices.Equal(again.ranked, tok.ranked) || !slices.Equal(again.tokens, tok.tokens) {
		t.Fatal("training is not deterministic")
	}
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadGPT2BPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.EncodeWithSpecial(text[:5000] + EndOfText); !slices.Equal(got, append(tok.Encode(text[:5000]), 599)) {
		t.Fatal("saved and loaded vocab encodes differently")
	}
}

// Non-ASCII text trains on its bytes: every learned token is a piece of
// the text, and frequent words of several-byte characters become one
// token each.
func TestTrainBPENonASCII(t *testing.T) {
	text := strings.Repeat("café café naïve über 日本語 日本語 🙂🙂\n", 40)
	tok := trainTiny(t, text, 300)
	for id := 256; id < tok.VocabSize(); id++ {
		if id == tok.EOT() {
			continue
		}
		if piece := tok.Decode([]int{id}); !strings.Contains(text, piece) {
			t.Errorf("token %d is %q, which the training text does not hold", id, piece)
		}
	}
	for _, word := range []string{" café", " 日本語", " über"} {
		if ids := tok.Encode(word); len(ids) != 1 {
			t.Errorf("%q encodes to %v, want one token", word, ids)
		}
	}
}

// A .jsonl file trains on its documents, not on the JSON around them: the
// same vocabulary as the documents in text files of their own.
func TestTrainBPEJSONL(t *testing.T) {
	dir := t.TempDir()
	text := smallText()
	docs := []string{text[:30_000], text[30_000:70_000], text[70_000:]}
	var jl strings.Builder
	var files []string
	for i, d := range docs {
		b, _ := json.Marshal(map[string]string{"text": d, "source": "corpus"})
		jl.Write(b)
		jl.WriteString("\n")
		files = append(files, filepath.Join(dir, fmt.Sprintf("doc%d.txt", i)))
		os.WriteFile(files[i], []byte(d), 0o644)
	}
	path := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(path, []byte(jl.String()), 0o644)
	fromJSONL, err := TrainBPE([]string{path}, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := TrainBPE(files, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fromJSONL.ranked, fromText.ranked) || !slices.Equal(fromJSONL.tokens, fromText.tokens) {
		t.Fatal("the BPE trained on the .jsonl file differs from the one trained on its documents")
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"text\": \"ok\"}\n{\"txt\": \"typo\"}\n"), 0o644)
	if _, err := TrainBPE([]string{bad}, 300, nil); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
		t.Fatalf("a line without text: %v", err)
	}
}

func TestTrainBPEErrors(t *testing.T) {
	if _, err := TrainBPE([]string{"x"}, 100, nil); err == nil || !strings.Contains(err.Error(), "at least 257") {
		t.Fatalf("small vocab: %v", err)
	}
	if _, err := TrainBPE([]string{"/nonexistent/corpus.txt"}, 300, nil); err == nil || !strings.Contains(err.Error(), "/nonexistent/corpus.txt") {
		t.Fatalf("missing file: %v", err)
	}
	// An empty file has nothing to learn from.
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	var ie *InputError
	if _, err := TrainBPE([]string{empty}, 300, nil); !errors.As(err, &ie) || !strings.Contains(err.Error(), "empty.txt: no text") {
		t.Fatalf("empty file: %v, want an input error naming it", err)
	}
	// A text with few pairs stops early with a smaller vocab, and says so.
	path := filepath.Join(t.TempDir(), "ab.txt")
	os.WriteFile(path, []byte("ab ab ab"), 0o644)
	var log strings.Builder
	tok, err := TrainBPE([]string{path}, 1000, &log)
	if err != nil || tok.VocabSize() >= 1000 || tok.Decode(tok.Encode("ab ab")) != "ab ab" || !strings.Contains(log.String(), "not the 1000 asked for") {
		t.Fatalf("vocab %d (%v), log %q", tok.VocabSize(), err, log.String())
	}
}

// Tinyshakespeare to a vocabulary of 2,000 must take seconds.
func TestTrainBPEShakespeare(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := sharedPath("GPTCTL_SHAKESPEARE", "../../shared/data/pretrain/tinyshakespeare.txt")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no corpus at %s (set GPTCTL_SHAKESPEARE)", path)
	}
	start := time.Now()
	tok, err := TrainBPE([]string{path}, 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	ids := tok.Encode(string(raw))
	t.Logf("trained in %v; %d bytes -> %d tokens", time.Since(start), len(raw), len(ids))
	if time.Since(start) > 30*time.Second {
		t.Fatal("training took too long")
	}
}

// The trainer updates pair counts at the merges alone; a trainer that
// recounts every pair of every piece before each merge must learn the
// same merges, in the same order, on pieces with runs of one symbol
// ("aaaa"), alternations ("abab") and random text over small alphabets.
func TestBPETrainerMatchesRecount(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 40 {
		counts := map[string]int64{}
		alphabet := "ab"[:1+trial%2] + "cdxyz"[:trial%5]
		for range 1 + rng.IntN(12) {
			var b strings.Builder
			n := 1 + rng.IntN(60)
			switch trial % 3 {
			case 0: // random
				for range n {
					b.WriteByte(alphabet[rng.IntN(len(alphabet))])
				}
			case 1: // runs
				for b.Len() < n {
					b.WriteString(strings.Repeat(string(alphabet[rng.IntN(len(alphabet))]), 1+rng.IntN(9)))
				}
			default: // a repeated motif
				motif := alphabet[:1+rng.IntN(len(alphabet))]
				b.WriteString(strings.Repeat(motif, n/len(motif)+1))
			}
			counts[b.String()] += 1 + rng.Int64N(5)
		}
		size := 256 + 1 + rng.IntN(60)
		tr := newBPETrainer(counts)
		tr.run(size, nil)
		if want := recountMerges(counts, size); !slices.Equal(tr.ranked, want) {
			t.Fatalf("trial %d, pieces %v:\nmerges %v\nwant   %v", trial, counts, tr.ranked, want)
		}
	}
}

// recountMerges trains as bpeTrainer documents, counting every pair anew
// before each merge: the most frequent pair (weighted by the pieces'
// counts, at least 2), ties to the lowest left id, then right id.
func recountMerges(counts map[string]int64, size int) [][2]int32 {
	var words [][]int32
	var freq []int64
	for k, c := range counts {
		w := make([]int32, len(k))
		for i := range len(k) {
			w[i] = int32(k[i])
		}
		words, freq = append(words, w), append(freq, c)
	}
	tokens := make([]string, 256)
	for b := range tokens {
		tokens[b] = string([]byte{byte(b)})
	}
	var ranked [][2]int32
	for len(tokens) < size {
		pairs := map[[2]int32]int64{}
		for i, w := range words {
			for j := 0; j+1 < len(w); j++ {
				pairs[[2]int32{w[j], w[j+1]}] += freq[i]
			}
		}
		var best [2]int32
		var top int64
		for p, c := range pairs {
			if c > top || c == top && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, top = p, c
			}
		}
		if top < 2 {
			break
		}
		ranked = append(ranked, best)
		s := tokens[best[0]] + tokens[best[1]]
		id := int32(slices.Index(tokens, s))
		if id < 0 {
			id = int32(len(tokens))
			tokens = append(tokens, s)
		}
		for i, w := range words {
			out := w[:0]
			for j := 0; j < len(w); j++ {
				if j+1 < len(w) && w[j] == best[0] && w[j+1] == best[1] {
					out = append(out, id)
					j++
				} else {
					out = append(out, w[j])
				}
			}
			words[i] = out
		}
	}
	return ranked
}
