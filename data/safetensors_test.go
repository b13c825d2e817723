package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// stReferenceDir is where the PyTorch reference vectors live, as the
// reference test in train finds them: GPTCTL_REFERENCE_DIR (a relative
// path is from the repository root), ../shared/reference by default. Set
// and missing, it fails the test: a typo must not pass as a skip.
func stReferenceDir(t testing.TB) string {
	dir, asked := os.LookupEnv("GPTCTL_REFERENCE_DIR")
	if dir == "" {
		dir, asked = filepath.Join("..", "shared", "reference"), false
	}
	if !filepath.IsAbs(dir) { // from the repository root, where make and go test ./... start
		dir = filepath.Join("..", dir)
	}
	if _, err := os.Stat(dir); err != nil {
		if asked {
			t.Fatalf("GPTCTL_REFERENCE_DIR=%s: %v", dir, err)
		}
		t.Skipf("reference vectors not found at %s (set GPTCTL_REFERENCE_DIR): %v", dir, err)
	}
	return dir
}

// rawSafetensors assembles a file from a header string and a data buffer.
func rawSafetensors(hdr string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(b, hdr...), data...)
}

func encodeForTest(t testing.TB, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeSafetensors(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSafetensorsRoundTrip(t *testing.T) {
	f16 := Tensor{Name: "half", DType: "F16", Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}}
	in := []Tensor{
		F32Tensor("h.0.attn.c_attn.weight", []int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, float32(math.Inf(1))}),
		f16,
		I64Tensor("inputs", []int{2, 2}, []int64{1, -7, 1 << 40, 0}),
		F32Tensor("loss", nil, []float32{4.25}),
		F32Tensor("empty", []int{0, 5}, nil),
	}
	meta := map[string]string{"format": "pt", "step": "100"}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteSafetensors(path, in, meta); err != nil {
		t.Fatal(err)
	}
	st, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.Metadata, meta) {
		t.Errorf("metadata = %v, want %v", st.Metadata, meta)
	}
	// 8-byte types first, then the order given; F16 last.
	wantOrder := []string{"inputs", "h.0.attn.c_attn.weight", "loss", "empty", "half"}
	if !reflect.DeepEqual(st.Order, wantOrder) {
		t.Errorf("order = %v, want %v", st.Order, wantOrder)
	}
	raw, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	for _, want := range in {
		got := st.Tensors[want.Name]
		if got.DType != want.DType || len(got.Shape) != len(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: got %s %v %x, want %s %v %x", want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
	}
	entries, _, err := parseSafetensorsHeader(raw[8 : 8+n])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.begin%int64(dtypeSizes[e.dtype]) != 0 {
			t.Errorf("%s %s starts at data offset %d: not aligned", e.name, e.dtype, e.begin)
		}
	}
	f, err := st.Tensors["half"].Float32()
	if err != nil || !reflect.DeepEqual(f, []float32{1, -2, 1.0 / (1 << 24)}) {
		t.Errorf("F16 Float32() = %v, %v", f, err)
	}
	ids, err := st.Tensors["inputs"].Int64()
	if err != nil || !reflect.DeepEqual(ids, []int64{1, -7, 1 << 40, 0}) {
		t.Errorf("I64 Int64() = %v, %v", ids, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestSafetensorsEmptyMatchesReference(t *testing.T) {
	// The reference implementation's test_empty vectors.
	got := encodeForTest(t, nil, nil)
	if want := []byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '}; !bytes.Equal(got, want) {
		t.Errorf("empty file = %q, want %q", got, want)
	}
	got = encodeForTest(t, nil, map[string]string{"framework": "pt"})
	if want := rawSafetensors(`{"__metadata__":{"framework":"pt"}}     `, nil); !bytes.Equal(got, want) {
		t.Errorf("metadata-only file = %q, want %q", got, want)
	}
}

// TestSafetensorsReference reads every reference case folder: each file
// parses, every tensor survives a round trip through our writer, the batch's
// targets are its inputs shifted by one, and the expected logits have the
// batch's shape over the embedding's vocabulary.
func TestSafetensorsReference(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join(stReferenceDir(t), "*", "expected.safetensors"))
	if len(cases) == 0 {
		t.Skip("no case folders under the reference directory")
	}
	for _, c := range cases {
		dir := filepath.Dir(c)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			model := readRoundTrip(t, filepath.Join(dir, "model.safetensors"))
			vocab := -1
			for _, name := range []string{"tokens_embed.weight", "wte.weight"} {
				for _, prefix := range []string{"", "transformer."} {
					if e, ok := model.Tensors[prefix+name]; ok && len(e.Shape) == 2 {
						vocab = e.Shape[0]
					}
				}
			}
			if vocab < 0 {
				t.Fatalf("model.safetensors has no token embedding (tokens_embed.weight or wte.weight): %v", model.Order)
			}

			batch := readRoundTrip(t, filepath.Join(dir, "batch.safetensors"))
			in, err1 := batch.Tensors["inputs"].Int64()
			tg, err2 := batch.Tensors["targets"].Int64()
			shape := batch.Tensors["inputs"].Shape
			if err1 != nil || err2 != nil || len(shape) != 2 || !reflect.DeepEqual(batch.Tensors["targets"].Shape, shape) {
				t.Fatalf("batch: inputs %v targets %v (%v, %v): want two int64 tensors of one (batch, seq) shape",
					shape, batch.Tensors["targets"].Shape, err1, err2)
			}
			B, T := shape[0], shape[1]
			for b := range B {
				for i := range T - 1 {
					if tg[b*T+i] != in[b*T+i+1] {
						t.Fatalf("batch row %d: targets[%d] = %d, inputs[%d] = %d: want targets = inputs shifted by one",
							b, i, tg[b*T+i], i+1, in[b*T+i+1])
					}
				}
			}

			exp := readRoundTrip(t, filepath.Join(dir, "expected.safetensors"))
			loss, err := exp.Tensors["loss"].Float32()
			if err != nil || len(loss) != 1 || math.IsNaN(float64(loss[0])) || loss[0] <= 0 {
				t.Errorf("loss = %v, %v; want one positive value", loss, err)
			}
			if got := exp.Tensors["logits"].Shape; !reflect.DeepEqual(got, []int{B, T, vocab}) {
				t.Errorf("logits shape = %v, want %v", got, []int{B, T, vocab})
			}
		})
	}
}

// readRoundTrip reads a safetensors file, writes it back with our writer and
// reads that: every tensor must come back with its dtype, shape and bytes.
func readRoundTrip(t *testing.T, path string) *SafeTensors {
	t.Helper()
	st, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []Tensor
	for _, name := range st.Order {
		ts = append(ts, st.Tensors[name])
	}
	again, err := ParseSafetensors(encodeForTest(t, ts, st.Metadata), path+" (re-encoded)")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range st.Order {
		a, b := st.Tensors[name], again.Tensors[name]
		if a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: tensor %s changed in a round trip through our writer", path, name)
		}
	}
	return st
}

// TestSafetensorsWriterMatchesReferenceFile: our writer reproduces the
// shipped gpt1-tiny model file byte for byte (the safetensors library's own
// layout: header spacing, padding, tensor order).
func TestSafetensorsWriterMatchesReferenceFile(t *testing.T) {
	path := filepath.Join(stReferenceDir(t), "gpt1-tiny", "model.safetensors")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("the shipped case gpt1-tiny is not here (%v); this test compares our writer with that file", err)
	}
	model, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(model.Order) != 26 || model.Order[0] != "tokens_embed.weight" {
		t.Errorf("order = %v", model.Order)
	}
	var ts []Tensor
	for _, name := range model.Order {
		ts = append(ts, model.Tensors[name])
	}
	if got := encodeForTest(t, ts, nil); !bytes.Equal(got, raw) {
		t.Errorf("re-encoded model.safetensors differs from the reference file (%d vs %d bytes)", len(got), len(raw))
	}
}

func TestSafetensorsCorrupt(t *testing.T) {
	f32x2 := make([]byte, 8)
	valid := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 1000), "{}"...), "exceeds the file"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, 1<<62), "exceeds the 100000000-byte limit"},
		{"header max uint64", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "limit"},
		{"invalid json", rawSafetensors(`{"w":{"dtype":`, nil), "invalid header json"},
		{"not an object", rawSafetensors(`[1,2]`, nil), "invalid header json"},
		{"trailing garbage", rawSafetensors(`{} x`, nil), "invalid header json"},
		{"not utf8", rawSafetensors("{\"\xff\":1}", nil), "not valid utf-8"},
		{"unknown dtype", rawSafetensors(`{"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}`, f32x2), `tensor "w": unknown dtype "F12"`},
		{"missing field", rawSafetensors(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, f32x2), "needs dtype, shape and data_offsets"},
		{"negative dim", rawSafetensors(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, f32x2), "negative dimension -2"},
		{"shape overflow", rawSafetensors(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, f32x2), "overflows"},
		{"shape too big for int64", rawSafetensors(`{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}}`, f32x2), "invalid header json"},
		{"size mismatch", rawSafetensors(`{"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,100]}}`, make([]byte, 100)),
			`tensor "h.0.attn.c_attn.weight": data_offsets [0,100] hold 100 bytes, shape [4 8] F32 needs 128`},
		{"offsets not a pair", rawSafetensors(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}`, f32x2), "must be [begin, end]"},
		{"offsets reversed", rawSafetensors(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, f32x2), "are not a range"},
		{"truncated data", rawSafetensors(valid, f32x2[:6]), "run past the end"},
		{"trailing data", rawSafetensors(valid, make([]byte, 12)), "trailing bytes"},
		{"hole", rawSafetensors(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "leave a hole at bytes [0,4]"},
		{"overlap", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), `tensor "b": data_offsets [4,8] overlap`},
		{"duplicate", rawSafetensors(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32x2), `duplicate tensor "w"`},
		{"bad metadata", rawSafetensors(`{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := ParseSafetensors(c.file, "model.safetensors")
			if err == nil {
				t.Fatalf("no error, got %d tensors", len(st.Tensors))
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors model.safetensors: ") {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestSafetensorsAcceptsAnyOffsetOrder(t *testing.T) {
	hdr := `{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"z":{"dtype":"U8","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":null}`
	st, err := ParseSafetensors(rawSafetensors(hdr, make([]byte, 8)), "x")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "z", "b"}; !reflect.DeepEqual(st.Order, want) {
		t.Errorf("order = %v, want %v", st.Order, want)
	}
}

func TestTensorConversions(t *testing.T) {
	bf16 := Tensor{Name: "b", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x00, 0xc0}}
	if got, err := bf16.Float32(); err != nil || !reflect.DeepEqual(got, []float32{1, -2}) {
		t.Errorf("BF16 = %v, %v", got, err)
	}
	f16 := Tensor{Name: "h", DType: "F16", Shape: []int{3}, Data: []byte{0xff, 0x7b, 0x00, 0x7c, 0x00, 0x80}}
	if got, err := f16.Float32(); err != nil || got[0] != 65504 || !math.IsInf(float64(got[1]), 1) || math.Signbit(float64(got[2])) != true {
		t.Errorf("F16 = %v, %v", got, err)
	}
	f64 := Tensor{Name: "d", DType: "F64", Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))}
	if got, err := f64.Float32(); err != nil || got[0] != 0.5 {
		t.Errorf("F64 = %v, %v", got, err)
	}
	i32 := Tensor{Name: "i", DType: "I32", Shape: []int{2}, Data: []byte{0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0}}
	if got, err := i32.Int64(); err != nil || !reflect.DeepEqual(got, []int64{-1, 5}) {
		t.Errorf("I32 = %v, %v", got, err)
	}
	u8 := Tensor{Name: "u", DType: "U8", Shape: []int{2}, Data: []byte{255, 1}}
	if got, err := u8.Int64(); err != nil || !reflect.DeepEqual(got, []int64{255, 1}) {
		t.Errorf("U8 = %v, %v", got, err)
	}
	u64 := Tensor{Name: "big", DType: "U64", Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, math.MaxUint64)}
	for _, c := range []struct {
		err  error
		want string
	}{
		{stErrOf(i32.Float32()), "not a float type"},
		{stErrOf(f64.Int64()), "not an integer type"},
		{stErrOf(u64.Int64()), "does not fit int64"},
		{stErrOf(Tensor{Name: "s", DType: "F32", Shape: []int{3}, Data: make([]byte, 8)}.Float32()), `tensor "s": 8 data bytes, shape [3] F32 needs 12`},
		{stErrOf(Tensor{Name: "q", DType: "Q4", Data: nil}.Int64()), "unknown dtype"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want %q", c.err, c.want)
		}
	}
}

func stErrOf[T any](_ T, err error) error { return err }

func TestWriteSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	good := F32Tensor("w", []int{1}, []float32{1})
	cases := []struct {
		tensors []Tensor
		want    string
	}{
		{[]Tensor{F32Tensor("w", []int{2, 2}, []float32{1})}, `tensor "w": 4 data bytes, shape [2 2] F32 needs 16`},
		{[]Tensor{good, good}, `duplicate tensor "w"`},
		{[]Tensor{{Name: "x", DType: "F7"}}, "unknown dtype"},
		{[]Tensor{F32Tensor("", nil, []float32{1})}, "empty name"},
		{[]Tensor{F32Tensor("__metadata__", nil, []float32{1})}, "reserved"},
	}
	for _, c := range cases {
		err := WriteSafetensors(filepath.Join(dir, "m.safetensors"), c.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("failed writes left files: %v", left)
	}
	if err := WriteSafetensors(filepath.Join(dir, "missing", "m.safetensors"), []Tensor{good}, nil); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func FuzzSafetensors(f *testing.F) {
	f.Add(encodeForTest(f, []Tensor{
		F32Tensor("a", []int{2, 2}, []float32{1, 2, 3, 4}),
		I64Tensor("b", []int{1}, []int64{7}),
	}, map[string]string{"k": "v"}))
	f.Add(rawSafetensors(`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawSafetensors(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st, err := ParseSafetensors(b, "fuzz")
		if err == nil {
			for _, name := range st.Order {
				tt := st.Tensors[name]
				if _, err := tt.check(); err != nil {
					t.Fatalf("parsed tensor fails its own check: %v", err)
				}
				tt.Float32()
				tt.Int64()
			}
		}
		runtime.ReadMemStats(&after)
		// Conversions may allocate 8 bytes per input byte; parsing far less.
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(b)+1<<20); got > limit {
			t.Fatalf("allocated %d bytes for a %d-byte input", got, len(b))
		}
	})
}

// F32Tensor's bytes are the little-endian float32s safetensors stores,
// whether they are a view of the data (little-endian memory) or a copy.
func TestF32TensorBytes(t *testing.T) {
	x := []float32{1, -2.5, float32(math.Inf(-1)), 3e-42}
	got := F32Tensor("x", []int{4}, x).Data
	want := make([]byte, 16)
	for i, v := range x {
		binary.LittleEndian.PutUint32(want[4*i:], math.Float32bits(v))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("F32Tensor bytes %x, want %x", got, want)
	}
}

// OpenSafetensors maps the file and gives the tensors ReadSafetensors
// reads; a file it cannot parse gives ReadSafetensors's error.
func TestOpenSafetensors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	in := []Tensor{
		F32Tensor("w", []int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, -0.25}),
		F32Tensor("b", []int{3}, []float32{7, 8, 9}),
	}
	if err := WriteSafetensors(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	want, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	st, closeFile, err := OpenSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("OpenSafetensors = %+v, ReadSafetensors %+v", st, want)
	}
	if err := closeFile(); err != nil {
		t.Errorf("close: %v", err)
	}

	for name, b := range map[string][]byte{"short": {1, 2, 3}, "corrupt": rawSafetensors(`{"w":{"dtype":`, nil)} {
		bad := filepath.Join(dir, name+".safetensors")
		os.WriteFile(bad, b, 0o644)
		_, errRead := ReadSafetensors(bad)
		if _, _, err := OpenSafetensors(bad); err == nil || errRead == nil || err.Error() != errRead.Error() {
			t.Errorf("%s: OpenSafetensors error %v, ReadSafetensors %v", name, err, errRead)
		}
	}
	if _, _, err := OpenSafetensors(filepath.Join(dir, "none.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// Float32Into decodes every float dtype in place as Float32 does, and
// refuses a destination of another length.
func TestFloat32Into(t *testing.T) {
	vals := []float32{1, -2, 0.5, 65504, float32(math.Inf(-1)), 3e-5}
	var f16, bf16, f64 []byte
	for _, h := range []uint16{0x3c00, 0xc000, 0x3800, 0x7bff, 0xfc00, 0x0001} {
		f16 = binary.LittleEndian.AppendUint16(f16, h)
	}
	for _, v := range vals {
		bf16 = binary.LittleEndian.AppendUint16(bf16, uint16(math.Float32bits(v)>>16))
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(float64(v)))
	}
	for _, tn := range []Tensor{
		F32Tensor("f32", []int{2, 3}, vals),
		{Name: "f16", DType: "F16", Shape: []int{2, 3}, Data: f16},
		{Name: "bf16", DType: "BF16", Shape: []int{2, 3}, Data: bf16},
		{Name: "f64", DType: "F64", Shape: []int{2, 3}, Data: f64},
	} {
		want, err := tn.Float32()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(vals))
		if err := tn.Float32Into(got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Float32Into %v (%v), Float32 %v", tn.Name, got, err, want)
		}
		if tn.DType == "F32" && !reflect.DeepEqual(got, vals) {
			t.Errorf("F32 decoded as %v, want %v", got, vals)
		}
		if err := tn.Float32Into(make([]float32, 5)); err == nil || !strings.Contains(err.Error(), "6 elements, 5 wanted") {
			t.Errorf("%s into 5 floats: %v", tn.Name, err)
		}
	}
	i32 := Tensor{Name: "i", DType: "I32", Shape: []int{1}, Data: make([]byte, 4)}
	if err := i32.Float32Into(make([]float32, 1)); err == nil || !strings.Contains(err.Error(), "not a float type") {
		t.Errorf("I32 into floats: %v", err)
	}
}

// EqualsFloat32 compares a tensor with values piece by piece, across the
// pieces' edges, in the dtype it is stored in.
func TestEqualsFloat32(t *testing.T) {
	vals := make([]float32, 10_000) // past two pieces of 4,096
	var bf16 []byte
	for i := range vals {
		vals[i] = float32(i%97) / 8 // exact in BF16 too
		bf16 = binary.LittleEndian.AppendUint16(bf16, uint16(math.Float32bits(vals[i])>>16))
	}
	for _, tn := range []Tensor{
		F32Tensor("f32", []int{100, 100}, vals),
		{Name: "bf16", DType: "BF16", Shape: []int{100, 100}, Data: bf16},
	} {
		if same, err := tn.EqualsFloat32(vals); !same || err != nil {
			t.Errorf("%s: the same values: %v, %v", tn.Name, same, err)
		}
		for _, i := range []int{0, 4095, 4096, len(vals) - 1} {
			other := slices.Clone(vals)
			other[i] += 0.5
			if same, _ := tn.EqualsFloat32(other); same {
				t.Errorf("%s: element %d differs, yet equal", tn.Name, i)
			}
		}
		if same, _ := tn.EqualsFloat32(vals[1:]); same {
			t.Errorf("%s: one value fewer, yet equal", tn.Name)
		}
	}
	i32 := Tensor{Name: "i", DType: "I32", Shape: []int{1}, Data: make([]byte, 4)}
	if _, err := i32.EqualsFloat32([]float32{0}); err == nil {
		t.Error("I32 compared with floats: no error")
	}
}
