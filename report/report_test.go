package report

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun fabricates a run directory: a loss that decays, evaluations every
// 50 steps, a warmup-then-decay lr and, if finetune, an accuracy.
func writeRun(t *testing.T, root, name string, scale float64, finetune bool, tail string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for step := 0; step <= 500; step += 10 {
		loss := 1.5 + 3*scale*100/float64(step+100)
		lr := 6e-4 * min(1, float64(step+10)/100) * (1 - float64(step)/600)
		fmt.Fprintf(&b, `{"step": %d, "train_loss": %.4f, "lr": %.3g, "tokens_per_s": %d`, step, loss, lr, 9000+step)
		if step%50 == 0 {
			fmt.Fprintf(&b, `, "val_loss": %.4f`, loss+0.1)
			if finetune {
				fmt.Fprintf(&b, `, "val_accuracy": %.3f, "split": "val"`, 0.5+float64(step)/1200)
			}
		}
		b.WriteString("}\n")
	}
	b.WriteString(tail)
	if err := os.WriteFile(filepath.Join(dir, MetricsFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRun(t *testing.T) {
	root := t.TempDir()
	run, err := LoadRun(writeRun(t, root, "ft", 1, true, `{"step": 510, "train_lo`))
	if err != nil {
		t.Fatal(err)
	}
	if run.Name != "ft" || run.Records != 51 || !run.Truncated {
		t.Errorf("name %q records %d truncated %v, want ft 51 true", run.Name, run.Records, run.Truncated)
	}
	want := []string{"lr", "tokens_per_s", "train_loss", "val_accuracy", "val_loss"}
	if got := run.Metrics(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
	if p, _ := run.Final("train_loss"); p.Step != 500 {
		t.Errorf("final train_loss at step %d, want 500", p.Step)
	}
	if p, _ := run.Best("val_accuracy"); p.Step != 500 {
		t.Errorf("best val_accuracy at step %d, want 500 (higher is better)", p.Step)
	}
	if p, _ := run.Best("val_loss"); p.Step != 500 {
		t.Errorf("best val_loss at step %d, want 500", p.Step)
	}
	if _, ok := run.Best("lr"); ok {
		t.Error("lr has a best value")
	}
}

func TestLoadRunErrors(t *testing.T) {
	root := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"bad-middle", "{\"step\": 1, \"train_loss\": 2}\n{\"step\": 2, oops}\n{\"step\": 3, \"train_loss\": 1}\n", "metrics.jsonl line 2"},
		{"no-step", "{\"train_loss\": 2}\n", `line 1: no numeric "step"`},
		{"float-step", "{\"step\": 1.5}\n", "step 1.5 is not an integer"},
		{"truncated-with-newline", "{\"step\": 1, \"train_loss\": 2}\n{\"step\": 2, \"tr\n", "line 2"},
		{"empty", "\n", "no metrics records"},
	}
	for _, tt := range tests {
		dir := filepath.Join(root, tt.name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, MetricsFile), []byte(tt.content), 0o644)
		if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := LoadRun(filepath.Join(root, "missing")); err == nil || !strings.Contains(err.Error(), "metrics.jsonl") {
		t.Errorf("missing dir: err = %v", err)
	}
}

func TestRender(t *testing.T) {
	root := t.TempDir()
	var runs []*Run
	for i, name := range []string{"gpt-small", "gpt-wide"} {
		run, err := LoadRun(writeRun(t, root, name, 1+float64(i)/2, i == 1, ""))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	out := filepath.Join(root, "report")
	paths, err := Render(runs, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range []string{"loss", "lr", "tokens_per_s", "val_accuracy"} {
		want = append(want, filepath.Join(out, c+".png"), filepath.Join(out, c+".svg"))
	}
	want = append(want, filepath.Join(out, "report.html"))
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Fatalf("wrote\n%v\nwant\n%v", paths, want)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil || len(raw) == 0 {
			t.Fatalf("%s: %v, %d bytes", p, err, len(raw))
		}
		if filepath.Ext(p) == ".png" {
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
				t.Errorf("%s is %v", p, b)
			}
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, s := range []string{"gpt-small", "gpt-wide", "data:image/png;base64,", "val_accuracy"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	for _, s := range []string{"http://", "https://"} {
		if bytes.Contains(html, []byte(s)) {
			t.Errorf("report.html refers to %q", s)
		}
	}
	if _, err := Render(runs, out, []string{"pdf"}); err == nil {
		t.Error("format pdf accepted")
	}
	paths, err = Render(runs[:1], filepath.Join(root, "svg"), []string{"svg"})
	if err != nil || len(paths) != 3 { // loss, lr, tokens_per_s
		t.Errorf("svg only: %v, %v", paths, err)
	}
}
