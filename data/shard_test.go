package data

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestShardRoundTrip(t *testing.T) {
	for _, vocab := range []int{300, 1 << 16, 1<<16 + 1} {
		path := filepath.Join(t.TempDir(), "train_000.bin")
		ids := make([]int, 10_000)
		for i := range ids {
			ids[i] = (i * 7919) % vocab
		}
		sw, err := NewShardWriter(path, vocab, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(ids); i += 999 { // streaming, uneven pieces
			if err := sw.Write(ids[i:min(i+999, len(ids))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := OpenShard(path)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != len(ids) || s.VocabSize() != vocab || s.DType() != ShardDType(vocab) {
			t.Fatalf("len %d vocab %d dtype %d", s.Len(), s.VocabSize(), s.DType())
		}
		for _, i := range []int{0, 1, 5000, len(ids) - 1} {
			if s.Get(i) != ids[i] {
				t.Fatalf("Get(%d) = %d, want %d", i, s.Get(i), ids[i])
			}
		}
		win := make([]int32, 100)
		if err := s.Window(win, 9900); err != nil {
			t.Fatal(err)
		}
		for i, v := range win {
			if int(v) != ids[9900+i] {
				t.Fatalf("window[%d] = %d, want %d", i, v, ids[9900+i])
			}
		}
		if err := s.Window(win, 9901); err == nil {
			t.Fatal("window past the end: no error")
		}
		if err := s.Check(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestShardErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "train_000.bin")
	if err := WriteShard(path, []int{1, 2, 3, 4}, 10); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	mutate := func(f func(b []byte) []byte) string {
		p := filepath.Join(dir, "bad.bin")
		os.WriteFile(p, f(slices.Clone(good)), 0o644)
		return p
	}
	tests := []struct {
		name string
		f    func(b []byte) []byte
		want string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-2] }, "truncated: header says 4 tokens, file holds 3: copy the whole set again, or run gptctl data prepare again"},
		{"short header", func(b []byte) []byte { return b[:100] }, "shorter than the 256-byte header"},
		{"extra bytes", func(b []byte) []byte { return append(b, 0, 0, 0) }, "3 bytes follow them"},
		{"magic", func(b []byte) []byte { copy(b, "NOTASHRD"); return b }, "not a gptctl token shard"},
		{"version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 9); return b }, "version 9"},
		{"dtype", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 3); return b }, "unknown dtype 3"},
		{"vocab", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 1<<17); return b }, "does not fit dtype 2"},
	}
	for _, tt := range tests {
		_, err := OpenShard(mutate(tt.f))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bad.bin") {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewShardWriter(filepath.Join(dir, "x.bin"), 1<<17, 2); err == nil || !strings.Contains(err.Error(), "use dtype 4") {
		t.Errorf("vocab too big for uint16: %v", err)
	}
	if err := WriteShard(filepath.Join(dir, "y.bin"), []int{5, 10}, 10); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Errorf("token out of range: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "y.bin")); err == nil {
		t.Error("a failed shard was left behind")
	}
}

func writeTestShards(t *testing.T, dir, prefix string, sizes ...int) []int {
	var all []int
	for i, n := range sizes {
		ids := make([]int, n)
		for k := range ids {
			ids[k] = (len(all) + k) % 1000
		}
		all = append(all, ids...)
		if err := WriteShard(ShardPath(dir, prefix, i), ids, 1000); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func TestSampler(t *testing.T) {
	dir := t.TempDir()
	writeTestShards(t, dir, "train", 500, 3, 800) // the middle shard is too short for a window
	set, err := OpenShardSet(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if set.Len() != 1303 || len(set.Shards()) != 3 {
		t.Fatalf("len %d shards %d", set.Len(), len(set.Shards()))
	}
	const T = 16
	draw := func(s *Sampler, n int) [][]int32 {
		var out [][]int32
		for i := 0; i < n; i++ {
			x, y := make([]int32, 2*T), make([]int32, 2*T)
			if err := s.Next(x, y); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 2*T; k++ {
				if k%T != T-1 && y[k] != x[k+1] {
					t.Fatalf("targets are not inputs shifted by one: %v %v", x, y)
				}
			}
			out = append(out, x, y)
		}
		return out
	}
	a, _ := NewSampler(set, T, 42)
	b, _ := NewSampler(set, T, 42)
	first := draw(a, 10)
	if !slices.EqualFunc(first, draw(b, 10), slices.Equal) {
		t.Fatal("same seed, different windows")
	}
	raw, _ := json.Marshal(a.State())
	rest := draw(a, 10)
	var st SamplerState
	json.Unmarshal(raw, &st)
	c, _ := NewSampler(set, T, 7)
	if err := c.Restore(st); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(rest, draw(c, 10), slices.Equal) {
		t.Fatal("restored sampler draws different windows")
	}
	d, _ := NewSampler(set, T+1, 42)
	if err := d.Restore(st); err == nil {
		t.Fatal("restore with another sequence length: no error")
	}
	if _, err := NewSampler(set, 900, 1); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "train_*.bin")+": no shard holds 901 tokens") ||
		!strings.Contains(err.Error(), "use a seq_len below") {
		t.Fatalf("window too long: %v, want the shards named and a fix", err)
	}
	if _, err := OpenShardSet(dir, "val"); err == nil || !strings.Contains(err.Error(), "no shards val_*.bin") {
		t.Fatalf("missing split: %v", err)
	}
}

// A damaged token (an id past the vocabulary) is bad input naming the
// shard and position, for both token widths, wherever a window reads it.
func TestShardWindowRefusesDamagedToken(t *testing.T) {
	for _, vocab := range []int{300, 1<<16 + 1} {
		path := filepath.Join(t.TempDir(), "train_000.bin")
		if err := WriteShard(path, []int{1, 2, 3, 4, 5, 6}, vocab); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		dt := ShardDType(vocab)
		off := ShardHeaderSize + 4*dt // token 4
		if dt == 2 {
			binary.LittleEndian.PutUint16(b[off:], 300)
		} else {
			binary.LittleEndian.PutUint32(b[off:], 1<<31) // negative as an int32
		}
		os.WriteFile(path, b, 0o644)
		s, err := OpenShard(path)
		if err != nil {
			t.Fatal(err)
		}
		win := make([]int32, 3)
		if err := s.Window(win, 0); err != nil {
			t.Errorf("vocab %d: a window before the damage: %v", vocab, err)
		}
		err = s.Window(win, 2)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "at position 4 is outside the vocabulary") {
			t.Errorf("vocab %d: window over a damaged token: %v, want an InputError naming %s and position 4", vocab, err, path)
		}
		s.Close()
	}
}

// The fingerprint of a set is stable across opens, the same whether Check
// computed it or Fingerprint read the set itself, and changes with any
// token: the last, and one of a large shard between the blocks that
// builds before sampled (which that edit left as it was).
func TestShardSetFingerprint(t *testing.T) {
	for _, n := range []int{1000, 300_000} { // whole; 600 kB, sampled before
		dir := t.TempDir()
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i % 300
		}
		a, old := fingerprintsOf(t, dir, ids)
		if b, _ := fingerprintsOf(t, dir, ids); a != b || !strings.HasPrefix(a, fingerprintPrefix) {
			t.Fatalf("%d tokens: fingerprints %q and %q of the same shard", n, a, b)
		}
		edits := map[string]int{"the last token": n - 1}
		if n > fingerprintBlocks*fingerprintBlock/2 {
			edits["a token between sampled blocks"] = betweenBlocks(2 * n)
		}
		for what, at := range edits {
			was := ids[at]
			ids[at] = (was + 1) % 300
			if b, bold := fingerprintsOf(t, dir, ids); b == a {
				t.Errorf("%d tokens: the fingerprint did not change with %s", n, what)
			} else if at != n-1 && bold != old {
				t.Fatalf("%d tokens: the sampled fingerprint changed with %s: not between blocks", n, what)
			}
			ids[at] = was
		}
	}
}

// A sampler's state restores on the shards it was saved on, its
// fingerprint in this build's format or, from a checkpoint of a build
// before, of sampled blocks; shards prepared again to the same token count
// with a token changed between those blocks are refused.
func TestSamplerRestoreChecksEveryToken(t *testing.T) {
	dir := t.TempDir()
	ids := make([]int, 300_000)
	for i := range ids {
		ids[i] = i % 300
	}
	sampler := func() *Sampler {
		t.Helper()
		if err := WriteShard(ShardPath(dir, "train", 0), ids, 300); err != nil {
			t.Fatal(err)
		}
		set, err := OpenShardSet(dir, "train")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { set.Close() })
		if err := set.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		s, err := NewSampler(set, 16, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := sampler()
	st, old := s.State(), s.State()
	old.Sum = s.set.sampledFingerprint()
	for _, st := range []SamplerState{st, old} {
		if err := sampler().Restore(st); err != nil {
			t.Errorf("restore of sum %q on the same shards: %v", st.Sum, err)
		}
	}
	at := betweenBlocks(2 * len(ids))
	ids[at] = (ids[at] + 1) % 300
	if err := sampler().Restore(st); err == nil || !strings.Contains(err.Error(), "the shards were prepared again") {
		t.Errorf("restore on shards with a token changed: %v, want it refused", err)
	}
}

// betweenBlocks is the token (uint16) in the middle of the gap between
// the 32nd and 33rd blocks that builds before sampled of a shard of size
// bytes of tokens.
func betweenBlocks(size int) int {
	span := size - fingerprintBlock
	gap := span*31/(fingerprintBlocks-1) + fingerprintBlock
	return (gap + span*32/(fingerprintBlocks-1)) / 4
}

// fingerprintsOf writes ids into the one shard of dir and returns its
// set's fingerprint, as Check computes it (checked against Fingerprint's
// own read of the set), and as builds before sampled it (checked against
// FingerprintAs of it).
func fingerprintsOf(t *testing.T, dir string, ids []int) (sum, sampled string) {
	t.Helper()
	if err := WriteShard(ShardPath(dir, "train", 0), ids, 300); err != nil {
		t.Fatal(err)
	}
	var sums [2]string
	for i := range sums {
		set, err := OpenShardSet(dir, "train")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := set.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		sums[i], sampled = set.Fingerprint(), set.sampledFingerprint()
		if as := set.FingerprintAs(sampled); as != sampled || strings.HasPrefix(sampled, fingerprintPrefix) {
			t.Fatalf("FingerprintAs(%q) = %q, want it back", sampled, as)
		}
		set.Close()
	}
	if sums[0] != sums[1] {
		t.Fatalf("fingerprint %q after Check, %q from Fingerprint alone", sums[0], sums[1])
	}
	return sums[0], sampled
}

// A 32-bit build refuses a shard past what it can map (int(size) used to
// wrap, mapping a sliver of the file that reads then ran past), naming
// the fix; a sparse 3 GiB file stands in for it.
func TestOpenShardBeyond32Bits(t *testing.T) {
	if strconv.IntSize == 64 {
		t.Skip("a 64-bit build maps any shard; GOARCH=386 go test runs this")
	}
	path := filepath.Join(t.TempDir(), "train_000.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3 << 30); err != nil {
		f.Close()
		t.Skipf("no sparse file of 3 GiB here: %v", err)
	}
	f.Close()
	if _, err := OpenShard(path); err == nil || !strings.Contains(err.Error(), "32-bit build can map") {
		t.Errorf("a 3 GiB shard on a 32-bit build: %v", err)
	}
}

// A shard set with a gap in its numbers (a copy that lost a file) is
// refused by the missing shard's name, not read as a smaller corpus.
func TestShardSetMissingShard(t *testing.T) {
	dir := t.TempDir()
	in := writeTemp(t, dir, "t.txt", strings.Repeat("some text to shard into several pieces. ", 400))
	out := filepath.Join(dir, "sh")
	if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{in}, OutDir: out, ShardTokens: 4000}); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenShardSet(out, "train"); err != nil {
		t.Fatal(err)
	} else if s.Close(); len(s.shards) < 3 {
		t.Fatalf("%d shards, want 3 or more", len(s.shards))
	}
	last := ShardPath(out, "train", 3)
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(last) // a copy cut short, as a copy in name order leaves it
	var ie *InputError
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "train_003.bin is missing (shards.json lists 4 train shards, 3 are here)") {
		t.Errorf("a set without its last shard: %v, want it refused by name", err)
	}
	os.WriteFile(last, b, 0o644)
	os.WriteFile(ShardPath(out, "train", 4), b, 0o644) // a shard of another prepare
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "5 train shards, but shards.json lists 4") {
		t.Errorf("a set with a shard more: %v, want it refused", err)
	}
	os.Remove(ShardPath(out, "train", 4))
	m, err := os.ReadFile(filepath.Join(out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(out, ManifestFile), bytes.Replace(m, []byte(`"tokens": `), []byte(`"tokens": 1`), 1), 0o644)
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "shards.json lists 1") {
		t.Errorf("a set of other tokens than its manifest's: %v, want it refused", err)
	}
	os.WriteFile(filepath.Join(out, ManifestFile), m, 0o644)
	os.Remove(ShardPath(out, "train", 1))
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "train_001.bin is missing (the set goes on with train_002.bin)") {
		t.Errorf("a set without shard 1: %v, want it refused by name", err)
	}
	os.Remove(filepath.Join(out, ManifestFile)) // a set of an earlier build: gaps are still found
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "train_001.bin is missing") {
		t.Errorf("a set without shard 1 or a manifest: %v, want it refused by name", err)
	}
}

// A manifest checks the set of the prepare that wrote it, whose id its
// shards carry: one that an earlier build's prepare into the directory
// left behind (shards without the id) is not the set's, and a set that
// mixes the two is refused.
func TestShardSetStaleManifest(t *testing.T) {
	dir := t.TempDir()
	in := writeTemp(t, dir, "t.txt", strings.Repeat("some text to shard into several pieces. ", 400))
	out, older := filepath.Join(dir, "sh"), filepath.Join(dir, "older")
	for _, o := range []struct {
		dir    string
		tokens int
	}{{out, 4000}, {older, 7000}} {
		if _, err := Prepare(PrepareOptions{Tokenizer: ByteTokenizer{}, Inputs: []string{in}, OutDir: o.dir, ShardTokens: o.tokens}); err != nil {
			t.Fatal(err)
		}
	}
	unmark := func(path string) { // as an earlier build wrote it
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		clear(b[32:48])
		os.WriteFile(path, b, 0o644)
	}
	one := ShardPath(out, "train", 1)
	b, _ := os.ReadFile(one)
	unmark(one)
	var ie *InputError
	if _, err := OpenShardSet(out, "train"); !errors.As(err, &ie) || !strings.Contains(err.Error(), "train_001.bin is not of the data prepare shards.json lists") {
		t.Errorf("a set with a shard of another prepare: %v, want it refused", err)
	}
	os.WriteFile(one, b, 0o644)
	olds, _ := ShardFiles(older, "train")
	news, _ := ShardFiles(out, "train")
	if len(olds) >= len(news) {
		t.Fatalf("%d shards prepared again, want fewer than %d", len(olds), len(news))
	}
	for _, f := range news {
		os.Remove(f)
	}
	for _, f := range olds {
		unmark(f)
		os.Rename(f, filepath.Join(out, filepath.Base(f)))
	}
	set, err := OpenShardSet(out, "train")
	if err != nil {
		t.Fatalf("a set an earlier build prepared again, beside the manifest it left: %v", err)
	}
	if set.Close(); len(set.shards) != len(olds) {
		t.Errorf("%d shards, want %d", len(set.shards), len(olds))
	}
}

// A shard set's Check finds a damaged token wherever it lies (the first
// and last token, either side of a block of the fast scan, in the last
// tokens a 64-bit load leaves), naming the shard and the first such
// position, in either dtype; a set of undamaged shards passes, and a
// cancelled context stops the read with its cause.
func TestShardSetCheck(t *testing.T) {
	n := 2*checkBlock + 7
	for _, vocab := range []int{300, 1<<16 + 1} {
		for _, at := range []int{0, 3, checkBlock - 1, checkBlock, 2*checkBlock + 4, n - 1} {
			dir := t.TempDir()
			ids := make([]int, n)
			for i := range ids {
				ids[i] = (i * 7919) % vocab
			}
			for i := range 2 {
				if err := WriteShard(ShardPath(dir, "train", i), ids, vocab); err != nil {
					t.Fatal(err)
				}
			}
			set, err := OpenShardSet(dir, "train")
			if err != nil {
				t.Fatal(err)
			}
			if err := set.Check(context.Background()); err != nil {
				t.Fatalf("undamaged shards: %v", err)
			}
			set.Close()
			path := ShardPath(dir, "train", 1)
			b, _ := os.ReadFile(path)
			dt, bad := ShardDType(vocab), uint32(0xFFFF)
			for _, pos := range []int{at, n - 1} { // the first is reported
				if dt == 2 {
					binary.LittleEndian.PutUint16(b[ShardHeaderSize+2*pos:], uint16(bad))
				} else {
					bad = 1 << 31 // negative as an int32
					binary.LittleEndian.PutUint32(b[ShardHeaderSize+4*pos:], bad)
				}
			}
			os.WriteFile(path, b, 0o644)
			set, err = OpenShardSet(dir, "train")
			if err != nil {
				t.Fatal(err)
			}
			err = set.Check(context.Background())
			var ie *InputError
			if want := fmt.Sprintf("train_001.bin: token %d at position %d is outside the vocabulary", int(bad), at); !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
				t.Errorf("vocab %d, damaged at %d: %v, want an InputError with %q", vocab, at, err, want)
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errors.New("received terminated"))
			if err := set.Check(ctx); err == nil || !strings.Contains(err.Error(), "received terminated") {
				t.Errorf("a cancelled check: %v", err)
			}
			set.Close()
		}
	}
}

// BenchmarkShardCheck measures Check over a shard of GPT-2 sized ids in
// memory (a shard on disk reads at the disk's pace).
func BenchmarkShardCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "train_000.bin")
	ids := make([]int, 32<<20)
	for i := range ids {
		ids[i] = (i * 7919) % 50257
	}
	if err := WriteShard(path, ids, 50257); err != nil {
		b.Fatal(err)
	}
	s, err := OpenShard(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(int64(2 * len(ids)))
	for b.Loop() {
		if err := s.Check(); err != nil {
			b.Fatal(err)
		}
	}
}

// A set of more shards than the process may map (the kernel's
// vm.max_map_count, 65,530 by default) is refused with the cause and the
// fix, not "cannot allocate memory".
func TestShardSetPastTheMapLimit(t *testing.T) {
	dir := t.TempDir()
	sizes := make([]int, 1200)
	for i := range sizes {
		sizes[i] = 4
	}
	writeTestShards(t, dir, "train", sizes...)
	maps := 0
	defer func(m func(*os.File, int64) ([]byte, func() error, error)) { mapShard = m }(mapShard)
	mapShard = func(f *os.File, size int64) ([]byte, func() error, error) {
		if maps++; maps > 1100 {
			return nil, nil, syscall.ENOMEM
		}
		return mapFile(f, size)
	}
	_, err := OpenShardSet(dir, "train")
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "train_1100.bin: map: cannot allocate memory: each shard is mapped into memory, and a process may hold a limited number of maps") ||
		!strings.Contains(err.Error(), "this one has 1200 shards") ||
		!strings.Contains(err.Error(), "--shard-tokens") {
		t.Errorf("got %v, want an InputError naming the map limit and --shard-tokens", err)
	}
}

// A long write (a .jsonl document's ids) is converted in blocks: the
// writer's buffer stays a block's size, and the shard holds every id.
func TestShardWriterWritesInBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train_000.bin")
	sw, err := NewShardWriter(path, 70000, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 5*writeBlock+7)
	for i := range ids {
		ids[i] = i % 70000
	}
	if err := sw.Write(ids); err != nil {
		t.Fatal(err)
	}
	if c := cap(sw.buf); c > 2*4*writeBlock { // 4 bytes an id here
		t.Errorf("buffer of %d bytes for %d ids, want one block's (%d ids)", c, len(ids), writeBlock)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenShard(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != len(ids) {
		t.Fatalf("shard holds %d ids, want %d", s.Len(), len(ids))
	}
	for _, i := range []int{0, writeBlock - 1, writeBlock, 3*writeBlock + 5, len(ids) - 1} {
		if got := s.Get(i); got != ids[i] {
			t.Errorf("id %d = %d, want %d", i, got, ids[i])
		}
	}
}
