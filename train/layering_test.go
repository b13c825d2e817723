package train

// The package layering of STYLE.md's table: cmd/gptctl → train → graph →
// kernels, with data a leaf. train reaches the kernels only through graph,
// in every file whatever its build tags (device_gpu.go builds with cuda
// only) and in its tests; graph and kernels never import what is above
// them; data imports nothing of gptctl.

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLayering(t *testing.T) {
	for _, c := range []struct {
		dir   string // from train/
		tests bool   // the _test.go files too
		ok    func(path string) bool
		rule  string
	}{
		{"../train", true, func(p string) bool { return p != "gptctl/kernels" && !strings.HasPrefix(p, "gptctl/kernels/") },
			"train may import graph and data, not kernels (graph is its one door to them)"},
		{"../data", false, func(string) bool { return false }, "data is a leaf: it imports nothing from gptctl"},
		{"../graph", false, func(p string) bool { return p == "gptctl/kernels" }, "graph may import kernels only"},
		{"../kernels", false, func(p string) bool { return strings.HasPrefix(p, "gptctl/kernels/internal/") },
			"kernels imports nothing from gptctl but its own internal packages"},
	} {
		files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", c.dir, err)
		}
		for _, f := range files {
			if !c.tests && strings.HasSuffix(f, "_test.go") {
				continue
			}
			// ParseFile ignores build constraints: every file counts.
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				p, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					t.Fatal(err)
				}
				if (p == "gptctl" || strings.HasPrefix(p, "gptctl/")) && !c.ok(p) {
					t.Errorf("%s imports %s: %s (STYLE.md, Layout and imports)", filepath.ToSlash(f[len("../"):]), p, c.rule)
				}
			}
		}
	}
}
