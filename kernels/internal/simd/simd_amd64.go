//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// Enabled says the CPU has AVX2 and FMA, so the functions below may be called.
var Enabled = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// GeluFwd sets y[i] = gelu(x[i]) (tanh form) for i < n.
//
//go:noescape
func GeluFwd(y, x *float32, n int)

// GeluBwd sets dx[i] = dy[i] * gelu'(x[i]) for i < n.
//
//go:noescape
func GeluBwd(dx, dy, x *float32, n int)

// ExpSubSum sets x[i] = exp(x[i]-m) for i < n and returns their sum.
//
//go:noescape
func ExpSubSum(x *float32, n int, m float32) float32

// Max returns the largest of x[0..n) (n >= 8); a NaN in x is returned
// only when it is in the last eight.
//
//go:noescape
func Max(x *float32, n int) float32

// Dot returns the sum of a[i]*b[i] for i < n.
//
//go:noescape
func Dot(a, b *float32, n int) float32

// Axpy sets y[i] += alpha*x[i] for i < n.
//
//go:noescape
func Axpy(alpha float32, x, y *float32, n int)

// Scal sets x[i] *= alpha for i < n.
//
//go:noescape
func Scal(alpha float32, x *float32, n int)

// AdamW applies one AdamW update to p, m and v from grad for i < n.
//
//go:noescape
func AdamW(p, grad, m, v *float32, n int, k *AdamConsts)

// SumDev returns the sum of x[i]-m for i < n.
//
//go:noescape
func SumDev(x *float32, n int, m float32) float32

// SumSqDev returns the sum of (x[i]-m)² for i < n.
//
//go:noescape
func SumSqDev(x *float32, n int, m float32) float32

// LNApply sets y[i] = (x[i]-m)*s*w[i] + b[i] for i < n.
//
//go:noescape
func LNApply(y, x, w, b *float32, n int, m, s float32)

// LNBwdSums returns gsum = sum dy[i]w[i] and gxsum = sum dy[i]w[i]xhat[i], with
// xhat = (x-m)*s, and adds dy*xhat to dw and dy to db, for i < n.
//
//go:noescape
func LNBwdSums(dy, x, w, dw, db *float32, n int, m, s float32) (gsum, gxsum float32)

// LNBwdDx sets dx[i] = s*(dy[i]w[i] - gmean - xhat[i]*gxmean) for i < n.
//
//go:noescape
func LNBwdDx(dx, dy, x, w *float32, n int, m, s, gmean, gxmean float32)
