//go:build !amd64 || purego

package simd

// Enabled is false: without AVX2 assembly (another architecture, or -tags
// purego) the callers run their plain Go loops and never call these stubs.
var Enabled = false

func GeluFwd(y, x *float32, n int)                       { panic("simd: no AVX2") }
func GeluBwd(dx, dy, x *float32, n int)                  { panic("simd: no AVX2") }
func ExpSubSum(x *float32, n int, m float32) float32     { panic("simd: no AVX2") }
func Max(x *float32, n int) float32                      { panic("simd: no AVX2") }
func Dot(a, b *float32, n int) float32                   { panic("simd: no AVX2") }
func Axpy(alpha float32, x, y *float32, n int)           { panic("simd: no AVX2") }
func Scal(alpha float32, x *float32, n int)              { panic("simd: no AVX2") }
func AdamW(p, grad, m, v *float32, n int, k *AdamConsts) { panic("simd: no AVX2") }
func SumDev(x *float32, n int, m float32) float32        { panic("simd: no AVX2") }
func SumSqDev(x *float32, n int, m float32) float32      { panic("simd: no AVX2") }
func LNApply(y, x, w, b *float32, n int, m, s float32)   { panic("simd: no AVX2") }
func LNBwdSums(dy, x, w, dw, db *float32, n int, m, s float32) (gsum, gxsum float32) {
	panic("simd: no AVX2")
}
func LNBwdDx(dx, dy, x, w *float32, n int, m, s, gmean, gxmean float32) { panic("simd: no AVX2") }
