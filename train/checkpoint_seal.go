package train

// The checksums of a checkpoint's files, kept in its state.json, and the
// checksum that seals state.json itself.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gptctl/data"
)

// hashFiles returns the SHA-256 of every regular file in dir.
func hashFiles(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == stateFile || e.Name() == bestFile {
			continue
		}
		h, err := hashFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = h
	}
	return out, nil
}

// verifyFiles checks the files of a checkpoint against their recorded hashes.
func verifyFiles(dir string, files map[string]string) error {
	if len(files) == 0 {
		return fmt.Errorf("checkpoint %s: no file checksums recorded (state.json, or best.json in best/)", dir)
	}
	for name, want := range files {
		got, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		if got != want {
			return fmt.Errorf("checkpoint %s: %s is damaged (checksum mismatch)", dir, name)
		}
	}
	return nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sealKey begins a state.json that writeState sealed: its first key, the
// checksum of the rest.
const sealKey = "{\n  \"checksum\": \""

// writeState writes a checkpoint's state as indented JSON whose first key,
// "checksum", is the SHA-256 of the same JSON without that line: the state
// holds the checksums of the checkpoint's other files, and a bit flipped in
// it (a step of 100 for 120) would otherwise resume from the wrong place.
func writeState(path string, v any) error {
	b, err := jsonIndent(v)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	out := append([]byte(sealKey+hex.EncodeToString(sum[:])+"\",\n"), b[len("{\n"):]...)
	return data.WriteFile(path, out)
}

// readState reads the state.json of the checkpoint in dir into v, checking
// its checksum. One written before states were sealed has none; it is read
// when it decodes with no unknown key (a damaged "checksum" key is one).
func readState(dir string, v any) error {
	path := filepath.Join(dir, stateFile)
	b, sealed, err := sealedJSON(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if !sealed {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// sealedJSON returns the JSON of a file writeState wrote, without its
// checksum line, which it checks, and whether it had one.
func sealedJSON(path string) (b []byte, sealed bool, err error) {
	if b, err = os.ReadFile(path); err != nil {
		return nil, false, fmt.Errorf("checkpoint: %w", err)
	}
	const hexLen, tail = 2 * sha256.Size, "\",\n"
	rest, ok := bytes.CutPrefix(b, []byte(sealKey))
	if !ok || len(rest) <= hexLen+len(tail) || string(rest[hexLen:hexLen+len(tail)]) != tail {
		return b, false, nil
	}
	body := append([]byte("{\n"), rest[hexLen+len(tail):]...)
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != string(rest[:hexLen]) {
		return nil, true, fmt.Errorf("checkpoint %s: %s is damaged (checksum mismatch)", filepath.Dir(path), filepath.Base(path))
	}
	return body, true, nil
}
