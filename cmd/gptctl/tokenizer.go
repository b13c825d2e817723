package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"gptctl/data"
)

// TokenizerTrainOptions are the flags of gptctl tokenizer train.
type TokenizerTrainOptions struct {
	Data        []string
	VocabSize   int
	OutDir      string
	Out, ErrOut io.Writer
}

// TokenizerCodecOptions are the flags of gptctl tokenizer encode and decode.
type TokenizerCodecOptions struct {
	Spec    string
	Binary  bool
	Special bool // encode: map the literal <|endoftext|> to its id
	In      io.Reader
	Out     io.Writer
}

const specHelp = "gpt2, gpt1 (vocabulary directory from $GPTCTL_GPT2_VOCAB / $GPTCTL_GPT1_VOCAB), byte or a tokenizer directory"

// NewCmdTokenizer builds gptctl tokenizer and its subcommands.
func NewCmdTokenizer() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Train a BPE vocabulary, or encode and decode text with a tokenizer",
		Example: `  gptctl tokenizer train --data tinyshakespeare.txt --vocab-size 2000 --out tok/shk2k
  echo 'Hello world' | gptctl tokenizer encode --tokenizer tok/shk2k | gptctl tokenizer decode --tokenizer tok/shk2k`,
		Args: usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newCmdTokenizerTrain(nil), newCmdTokenizerCodec(false, nil), newCmdTokenizerCodec(true, nil))
	return cmd
}

func newCmdTokenizerTrain(runF func(*TokenizerTrainOptions) error) *cobra.Command {
	opts := &TokenizerTrainOptions{}
	cmd := &cobra.Command{
		Use:   "train --data FILE[,FILE...] --vocab-size N --out DIR",
		Short: "Train a byte-level BPE vocabulary (GPT-2 format) on text files",
		Long: `train learns a byte-level BPE vocabulary with GPT-2's pre-tokenisation and
writes DIR/encoder.json and DIR/vocab.bpe (256 byte tokens, the merges, and
<|endoftext|> as the last id) and the same as Hugging Face's DIR/tokenizer.json.
Each merge joins the most frequent pair of adjacent tokens (ties to the
lowest ids); a pair that occurs only once is never merged, so a small text
can stop short of --vocab-size (with a warning).
Training is deterministic. A .jsonl file (or a .json
file of JSON lines) trains on its documents, one {"text": ...} per line, as
data prepare reads them. It prints {"merges", "out", "vocab_size"} as JSON
on stdout.`,
		Example: "  gptctl tokenizer train --data tinyshakespeare.txt --vocab-size 2000 --out tok/shk2k",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out, opts.ErrOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if runF != nil {
				return runF(opts)
			}
			return tokenizerTrainRun(opts)
		},
	}
	f := cmd.Flags()
	inputsFlag(f, &opts.Data, "training text or .jsonl files or globs (repeatable, comma-separated)")
	f.IntVar(&opts.VocabSize, "vocab-size", 0, "vocabulary size, at least 257")
	f.StringVarP(&opts.OutDir, "out", "o", "", "directory to write encoder.json, vocab.bpe and tokenizer.json into")
	return cmd
}

func tokenizerTrainRun(opts *TokenizerTrainOptions) error {
	switch {
	case len(opts.Data) == 0:
		return &usageError{errors.New("tokenizer train: --data is required")}
	case opts.OutDir == "":
		return &usageError{errors.New("tokenizer train: --out is required")}
	case opts.VocabSize == 0: // not given (0 is never a size)
		return &usageError{errors.New("tokenizer train: --vocab-size is required (at least 257: 256 bytes and <|endoftext|>)")}
	case opts.VocabSize < 257:
		return &usageError{fmt.Errorf("tokenizer train: --vocab-size %d: need at least 257 (256 bytes and <|endoftext|>)", opts.VocabSize)}
	}
	if slices.Contains(opts.Data, "-") {
		return &usageError{errors.New("tokenizer train: --data -: it learns from files, not standard input (save the text to a file and name it)")}
	}
	files, err := data.ExpandInputs(opts.Data)
	if err != nil {
		return fmt.Errorf("tokenizer train: %w", err)
	}
	if fi, err := os.Stat(opts.OutDir); err == nil && !fi.IsDir() { // before the training, not after it
		return &data.InputError{Err: fmt.Errorf("tokenizer train: --out %s is a file, not a directory (choose another --out)", opts.OutDir)}
	}
	if err := tokenizerOut(opts.OutDir); err != nil {
		return err
	}
	tok, err := data.TrainBPE(files, opts.VocabSize, opts.ErrOut)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return &data.InputError{Err: fmt.Errorf("tokenizer train: --out %s: %w (choose a directory you can write)", opts.OutDir, err)}
	}
	if err := tok.Save(opts.OutDir); err != nil {
		return fmt.Errorf("tokenizer train: %w", err)
	}
	if err := tok.SaveTokenizerJSON(opts.OutDir); err != nil { // for Hugging Face's tokenizers
		return fmt.Errorf("tokenizer train: %w", err)
	}
	fmt.Fprintf(opts.ErrOut, "wrote %s: vocab %d, %d merges\n", opts.OutDir, tok.VocabSize(), tok.NumMerges())
	return printJSON(opts.Out, map[string]any{"out": opts.OutDir, "vocab_size": tok.VocabSize(), "merges": tok.NumMerges()})
}

// tokenizerOut refuses a tokenizer train's --out dir that has a tokenizer
// of its own, which the new files would replace or shadow (--tokenizer dir
// would read them): a run's, a model's, a shard set's or the tokenizer/ of
// one.
func tokenizerOut(dir string) error {
	held := heldRun(dir)
	if held == "" {
		held = strings.TrimPrefix(data.PrepareSign(dir), "it has ")
	}
	for _, f := range []string{"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "config.json", "state.json", "best.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); held == "" && err == nil {
			held = f
		}
	}
	if held != "" {
		return &usageError{fmt.Errorf("tokenizer train: --out %s holds a gptctl run, model or data set (it has %s): --tokenizer %[1]s would read the new files instead of its own tokenizer; choose another --out", dir, held)}
	}
	if parent := filepath.Dir(filepath.Clean(dir)); data.PrepareSign(parent) != "" {
		return &usageError{fmt.Errorf("tokenizer train: --out %s is in %s, a data set of token shards, whose tokenizer the shards were made with: choose another --out", dir, parent)}
	}
	return nil
}

func newCmdTokenizerCodec(decode bool, runF func(*TokenizerCodecOptions) error) *cobra.Command {
	opts := &TokenizerCodecOptions{}
	cmd := &cobra.Command{
		Use:     "encode --tokenizer SPEC [--binary] < text > ids",
		Short:   "Encode stdin to token ids on stdout",
		Long:    "encode reads text on stdin and writes its token ids, separated by spaces, or\nas little-endian uint32 with --binary. Text is UTF-8: a leading UTF-8 byte order\nmark is dropped, a UTF-16 or UTF-32 one refused; --tokenizer byte encodes any\nbytes as they are.",
		Example: "  echo 'Hello world' | gptctl tokenizer encode --tokenizer gpt2",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.In, opts.Out = cmd.InOrStdin(), cmd.OutOrStdout()
			if runF != nil {
				return runF(opts)
			}
			if decode {
				return tokenizerDecodeRun(opts)
			}
			return tokenizerEncodeRun(opts)
		},
	}
	if decode {
		cmd.Use = "decode --tokenizer SPEC [--binary] < ids > text"
		cmd.Short = "Decode token ids on stdin to text on stdout"
		cmd.Long = "decode reads token ids on stdin, separated by whitespace, or as little-endian\nuint32 with --binary, and writes their text."
		cmd.Example = "  echo '15496 995' | gptctl tokenizer decode --tokenizer gpt2"
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Spec, "tokenizer", "t", "", specHelp)
	f.BoolVar(&opts.Binary, "binary", false, "ids as little-endian uint32 instead of text")
	if !decode {
		f.BoolVar(&opts.Special, "special", false, "encode the literal <|endoftext|> as the end-of-text id")
	}
	return cmd
}

func resolveSpec(cmd, spec string) (data.Tokenizer, error) {
	if spec == "" {
		return nil, &usageError{fmt.Errorf("%s: --tokenizer is required (%s)", cmd, specHelp)}
	}
	tok, err := data.ResolveTokenizer(spec)
	if err != nil {
		return nil, &usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	return tok, nil
}

func tokenizerEncodeRun(opts *TokenizerCodecOptions) error {
	tok, err := resolveSpec("tokenizer encode", opts.Spec)
	if err != nil {
		return err
	}
	encode := tok.Encode
	if opts.Special {
		sp, ok := tok.(interface{ EncodeWithSpecial(string) []int })
		if !ok {
			return &usageError{fmt.Errorf("--special: tokenizer %s has no special tokens to read in text (byte-level BPEs have <|endoftext|>); leave --special out", opts.Spec)}
		}
		encode = sp.EncodeWithSpecial
	}
	w := bufio.NewWriterSize(opts.Out, 1<<16)
	first := true
	var buf []byte
	readChunks := func(r io.Reader, fn func(string) error) error { return data.ReadChunks(r, 1<<20, data.CutsOf(tok), fn) }
	if _, raw := tok.(data.ByteTokenizer); raw {
		readChunks = readByteChunks // bytes, not text: no byte order mark to drop or refuse
	}
	err = readChunks(opts.In, func(chunk string) error {
		buf = buf[:0]
		if why := data.CharTextProblem(tok, chunk); why != "" {
			return &usageError{fmt.Errorf("%s: %s", opts.Spec, why)}
		}
		for _, id := range encode(chunk) {
			if opts.Binary {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(id))
				continue
			}
			if !first {
				buf = append(buf, ' ')
			}
			buf, first = strconv.AppendInt(buf, int64(id), 10), false
		}
		_, err := w.Write(buf)
		return err
	})
	if err == nil && !opts.Binary && !first {
		err = w.WriteByte('\n')
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fmt.Errorf("tokenizer encode: %w", err)
	}
	return nil
}

func tokenizerDecodeRun(opts *TokenizerCodecOptions) error {
	tok, err := resolveSpec("tokenizer decode", opts.Spec)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(opts.Out, 1<<16)
	ids := make([]int, 0, 4096)
	flush := func() error {
		_, err := w.WriteString(tok.Decode(ids))
		ids = ids[:0]
		return err
	}
	add := func(id int64, n int) error {
		if id < 0 || id >= int64(tok.VocabSize()) {
			return &usageError{fmt.Errorf("tokenizer decode: id %d (number %d of the input) is outside the vocabulary of %s (%d tokens)", id, n, tok.Name(), tok.VocabSize())}
		}
		if ids = append(ids, int(id)); len(ids) == cap(ids) {
			return flush()
		}
		return nil
	}
	r := bufio.NewReaderSize(opts.In, 1<<16)
	if opts.Binary {
		err = decodeBinary(r, add)
	} else {
		err = decodeText(r, add)
	}
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = w.Flush()
	}
	return err
}

func decodeBinary(r io.Reader, add func(int64, int) error) error {
	var b [4]byte
	for n := 0; ; n++ {
		k, err := io.ReadFull(r, b[:])
		switch {
		case err == io.EOF:
			return nil
		case err == io.ErrUnexpectedEOF:
			return &usageError{fmt.Errorf("tokenizer decode: input ends %d bytes into id %d: --binary wants little-endian uint32 ids", k, n+1)}
		case err != nil:
			return fmt.Errorf("tokenizer decode: %w", err)
		}
		if err := add(int64(binary.LittleEndian.Uint32(b[:])), n+1); err != nil {
			return err
		}
	}
}

func decodeText(r io.Reader, add func(int64, int) error) error {
	sc := bufio.NewScanner(r)
	sc.Split(bufio.ScanWords)
	for n := 1; sc.Scan(); n++ {
		id, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			return &usageError{fmt.Errorf("tokenizer decode: word %d %q is not a token id (pass --binary for uint32 input)", n, sc.Text())}
		}
		if err := add(id, n); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("tokenizer decode: %w", err)
	}
	return nil
}

// readByteChunks passes r's bytes to fn in chunks, as they are: what the
// byte tokenizer encodes, whose decode may write any bytes (a leading
// FF FE or EF BB BF included, which text readers take for a byte order
// mark).
func readByteChunks(r io.Reader, fn func(string) error) error {
	b := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(r, b)
		if n > 0 {
			if err := fn(string(b[:n])); err != nil {
				return err
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return err
		}
	}
}
