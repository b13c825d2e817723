//go:build amd64 && !purego

// AVX2/FMA kernels for amd64 (see simd_amd64.go). Each processes n floats,
// n a multiple of 8, eight per iteration; the Go callers do the tail.

#include "textflag.h"

#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits; DATA name<>+4(SB)/4, $bits; \
	DATA name<>+8(SB)/4, $bits; DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(expmax, 0x42b00000)  // 88: e^x saturates at e^88 above (no Inf)
CONST8(expmin, 0xc2aeac4f)  // -87.33654: e^x is 2^-126 below
CONST8(log2e, 0x3fb8aa3b)
CONST8(ln2hi, 0x3f318000)   // 0.693359375
CONST8(ln2lo, 0xb95e8083)   // -2.12194440e-4
CONST8(ep0, 0x39506967)     // Cephes expf polynomial, highest degree first
CONST8(ep1, 0x3ab743ce)
CONST8(ep2, 0x3c088908)
CONST8(ep3, 0x3d2aa9c1)
CONST8(ep4, 0x3e2aaaaa)
CONST8(ep5, 0x3f000000)
CONST8(one, 0x3f800000)
CONST8(half, 0x3f000000)
CONST8(two, 0x40000000)
CONST8(bias, 0x0000007f)    // int32 127, the float32 exponent bias
CONST8(absmask, 0x7fffffff)
CONST8(signmask, 0x80000000)
CONST8(s2pi, 0x3f4c422a)    // sqrt(2/pi)
CONST8(s2pic, 0x3d122279)   // sqrt(2/pi)*0.044715
CONST8(s2pi3c, 0x3ddb33b6)  // sqrt(2/pi)*3*0.044715
CONST8(x2cap, 0x461c4000)   // 1e4: x^2 in gelu' is capped here, where tanh is already ±1

// EXP sets X = e^X (as exp32, clamped to [expmin, expmax]; NaN stays NaN).
// N and T are scratch.
#define EXP(X, N, T) \
	VMOVUPS expmax<>(SB), T; \
	VMINPS X, T, X; \
	VMOVUPS expmin<>(SB), T; \
	VMAXPS X, T, X; \
	VMULPS log2e<>(SB), X, N; \
	VROUNDPS $0, N, N; \
	VFNMADD231PS ln2hi<>(SB), N, X; \
	VFNMADD231PS ln2lo<>(SB), N, X; \
	VMOVUPS ep0<>(SB), T; \
	VFMADD213PS ep1<>(SB), X, T; \
	VFMADD213PS ep2<>(SB), X, T; \
	VFMADD213PS ep3<>(SB), X, T; \
	VFMADD213PS ep4<>(SB), X, T; \
	VFMADD213PS ep5<>(SB), X, T; \
	VMULPS X, T, T; \
	VFMADD213PS X, X, T; \
	VADDPS one<>(SB), T, T; \
	VCVTPS2DQ N, N; \
	VPADDD bias<>(SB), N, N; \
	VPSLLD $23, N, N; \
	VMULPS N, T, X

// TANH sets X = tanh(X) = sign(X) (1 - 2/(e^2|X| + 1)). S, N, T are scratch.
#define TANH(X, S, N, T) \
	VANDPS signmask<>(SB), X, S; \
	VANDPS absmask<>(SB), X, X; \
	VADDPS X, X, X; \
	EXP(X, N, T); \
	VADDPS one<>(SB), X, X; \
	VMOVUPS two<>(SB), T; \
	VDIVPS X, T, T; \
	VMOVUPS one<>(SB), X; \
	VSUBPS T, X, X; \
	VORPS S, X, X

// U sets U = sqrt(2/pi) (V + 0.044715 V^3) given V and V2 = V*V.
#define GELU_U(V, V2, U) \
	VMOVUPS s2pic<>(SB), U; \
	VFMADD213PS s2pi<>(SB), V2, U; \
	VMULPS V, U, U

// func GeluFwd(y, x *float32, n int)
TEXT ·GeluFwd(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   gfdone
gfloop:
	VMOVUPS (SI), Y0
	VMULPS  Y0, Y0, Y1
	GELU_U(Y0, Y1, Y2)
	TANH(Y2, Y3, Y4, Y5)
	VMULPS      half<>(SB), Y0, Y0
	VFMADD213PS Y0, Y0, Y2       // 0.5x*tanh + 0.5x
	VMOVUPS     Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gfloop
gfdone:
	VZEROUPPER
	RET

// func GeluBwd(dx, dy, x *float32, n int)
TEXT ·GeluBwd(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JZ   gbdone
gbloop:
	VMOVUPS (SI), Y0
	VMULPS  Y0, Y0, Y1
	VMINPS  x2cap<>(SB), Y1, Y1  // so that du stays finite where 1-th^2 is 0
	GELU_U(Y0, Y1, Y2)
	TANH(Y2, Y3, Y4, Y5)         // Y2 = th
	VMOVUPS      s2pi3c<>(SB), Y3
	VFMADD213PS  s2pi<>(SB), Y1, Y3  // du = sqrt(2/pi)(1 + 3*0.044715 x^2)
	VMULPS       half<>(SB), Y0, Y0  // 0.5x
	VMOVUPS      one<>(SB), Y4
	VFNMADD231PS Y2, Y2, Y4          // 1 - th^2
	VMULPS       Y3, Y4, Y4
	VMULPS       Y0, Y4, Y4          // 0.5x (1-th^2) du
	VMOVUPS      half<>(SB), Y5
	VFMADD213PS  Y5, Y5, Y2          // 0.5 th + 0.5
	VADDPS       Y4, Y2, Y2
	VMULPS       (DX), Y2, Y2
	VMOVUPS      Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  gbloop
gbdone:
	VZEROUPPER
	RET

// func ExpSubSum(x *float32, n int, m float32) float32
TEXT ·ExpSubSum(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y6
	VXORPS       Y7, Y7, Y7
	SHRQ $3, CX
	JZ   esdone
esloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y6, Y0, Y0
	VCMPPS  $5, expmin<>(SB), Y0, Y3 // not below expmin (or NaN): kept; below: 0, as exp32
	EXP(Y0, Y1, Y2)
	VANDPS  Y3, Y0, Y0
	VMOVUPS Y0, (SI)
	VADDPS  Y0, Y7, Y7
	ADDQ $32, SI
	DECQ CX
	JNZ  esloop
esdone:
	VEXTRACTF128 $1, Y7, X1
	VADDPS       X1, X7, X7
	VHADDPS      X7, X7, X7
	VHADDPS      X7, X7, X7
	VMOVSS       X7, ret+24(FP)
	VZEROUPPER
	RET

// func Max(x *float32, n int) float32 (n >= 8)
TEXT ·Max(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	SHRQ    $3, CX
	VMOVUPS (SI), Y0
	ADDQ    $32, SI
	DECQ    CX
	JZ      mxdone
mxloop:
	VMOVUPS (SI), Y1
	VMAXPS  Y1, Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JNZ  mxloop
mxdone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func Dot(a, b *float32, n int) float32
TEXT ·Dot(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	SHRQ   $3, CX
	JZ     dtdone
	TESTQ  $1, CX
	JZ     dtpairs
	VMOVUPS     (SI), Y2
	VFMADD231PS (DI), Y2, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JZ   dtdone
dtpairs:
	SHRQ $1, CX
dtloop:
	VMOVUPS     (SI), Y2
	VMOVUPS     32(SI), Y3
	VFMADD231PS (DI), Y2, Y0
	VFMADD231PS 32(DI), Y3, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  dtloop
dtdone:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+24(FP)
	VZEROUPPER
	RET

// func Axpy(alpha float32, x, y *float32, n int)
TEXT ·Axpy(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX
	SHRQ $3, CX
	JZ   axdone
axloop:
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  axloop
axdone:
	VZEROUPPER
	RET

// func Scal(alpha float32, x *float32, n int)
TEXT ·Scal(SB), NOSPLIT, $0-24
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	SHRQ $3, CX
	JZ   scdone
scloop:
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  scloop
scdone:
	VZEROUPPER
	RET

// func AdamW(p, grad, m, v *float32, n int, k *AdamConsts)
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p = p decay - step m / (sqrt(v)/sqrtBC2 + eps)
TEXT ·AdamW(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8       // beta1
	VBROADCASTSS 4(AX), Y9       // 1-beta1
	VBROADCASTSS 8(AX), Y10      // beta2
	VBROADCASTSS 12(AX), Y11     // 1-beta2
	VBROADCASTSS 16(AX), Y12     // eps
	VBROADCASTSS 20(AX), Y13     // decay
	VBROADCASTSS 24(AX), Y14     // stepSize
	VBROADCASTSS 28(AX), Y15     // sqrtBC2
	SHRQ $3, CX
	JZ   addone
adloop:
	VMOVUPS     (SI), Y0         // g
	VMULPS      (R8), Y8, Y1     // b1 m
	VFMADD231PS Y0, Y9, Y1       // + (1-b1) g
	VMOVUPS     Y1, (R8)
	VMULPS      Y0, Y11, Y2      // (1-b2) g
	VMULPS      Y0, Y2, Y2       // (1-b2) g g: g^2 first would overflow from |g| 1.8e19
	VMULPS      (R9), Y10, Y3    // b2 v
	VADDPS      Y2, Y3, Y3       // b2 v + (1-b2) g g, rounded as the Go loop rounds it
	VMOVUPS     Y3, (R9)
	VSQRTPS     Y3, Y3
	VDIVPS      Y15, Y3, Y3      // sqrt(v)/sqrtBC2
	VADDPS      Y12, Y3, Y3      // + eps
	VMULPS      Y14, Y1, Y1      // step m
	VDIVPS      Y3, Y1, Y1       // step m / (...)
	VMULPS      (DI), Y13, Y4    // p decay
	VSUBPS      Y1, Y4, Y4
	VMOVUPS     Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  adloop
addone:
	VZEROUPPER
	RET

// HSUM leaves the sum of the eight floats of Y in the low lane of X (X is
// Y's lower half); T is scratch.
#define HSUM(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPS       T, X, X; \
	VHADDPS      X, X, X; \
	VHADDPS      X, X, X

// func SumDev(x *float32, n int, m float32) float32
TEXT ·SumDev(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y2
	VXORPS       Y0, Y0, Y0
	SHRQ         $3, CX
	JZ           sumdone
sumloop:
	VMOVUPS (SI), Y1
	VSUBPS  Y2, Y1, Y1
	VADDPS  Y1, Y0, Y0
	ADDQ    $32, SI
	DECQ    CX
	JNZ     sumloop
sumdone:
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func SumSqDev(x *float32, n int, m float32) float32
TEXT ·SumSqDev(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y2
	VXORPS       Y0, Y0, Y0
	SHRQ         $3, CX
	JZ           ssdone
ssloop:
	VMOVUPS     (SI), Y1
	VSUBPS      Y2, Y1, Y1
	VFMADD231PS Y1, Y1, Y0
	ADDQ        $32, SI
	DECQ        CX
	JNZ         ssloop
ssdone:
	HSUM(Y0, X0, X1)
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func LNApply(y, x, w, b *float32, n int, m, s float32)
TEXT ·LNApply(SB), NOSPLIT, $0-48
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         b+24(FP), BX
	MOVQ         n+32(FP), CX
	VBROADCASTSS m+40(FP), Y4
	VBROADCASTSS s+44(FP), Y5
	SHRQ         $3, CX
	JZ           lnadone
lnaloop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y4, Y0, Y0
	VMULPS      Y5, Y0, Y0       // xhat
	VMULPS      (DX), Y0, Y0     // xhat w
	VADDPS      (BX), Y0, Y0     // + b
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	ADDQ        $32, BX
	DECQ        CX
	JNZ         lnaloop
lnadone:
	VZEROUPPER
	RET

// func LNBwdSums(dy, x, w, dw, db *float32, n int, m, s float32) (gsum, gxsum float32)
// g = sum dy w, gx = sum dy w xhat; dw += dy xhat, db += dy.
TEXT ·LNBwdSums(SB), NOSPLIT, $0-64
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), DX
	MOVQ         w+16(FP), BX
	MOVQ         dw+24(FP), DI
	MOVQ         db+32(FP), R8
	MOVQ         n+40(FP), CX
	VBROADCASTSS m+48(FP), Y6
	VBROADCASTSS s+52(FP), Y7
	VXORPS       Y8, Y8, Y8      // g
	VXORPS       Y9, Y9, Y9      // gx
	SHRQ         $3, CX
	JZ           lnsdone
lnsloop:
	VMOVUPS     (SI), Y0         // dy
	VMOVUPS     (DX), Y1
	VSUBPS      Y6, Y1, Y1
	VMULPS      Y7, Y1, Y1       // xhat
	VMULPS      (BX), Y0, Y2     // gj = dy w
	VADDPS      Y2, Y8, Y8
	VFMADD231PS Y1, Y2, Y9       // gx += gj xhat
	VADDPS      (R8), Y0, Y3
	VMOVUPS     Y3, (R8)         // db += dy
	VMOVUPS     (DI), Y3
	VFMADD231PS Y1, Y0, Y3
	VMOVUPS     Y3, (DI)         // dw += dy xhat
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, BX
	ADDQ        $32, DI
	ADDQ        $32, R8
	DECQ        CX
	JNZ         lnsloop
lnsdone:
	HSUM(Y8, X8, X1)
	VMOVSS X8, gsum+56(FP)
	HSUM(Y9, X9, X1)
	VMOVSS X9, gxsum+60(FP)
	VZEROUPPER
	RET

// func LNBwdDx(dx, dy, x, w *float32, n int, m, s, gmean, gxmean float32)
// dx = s (dy w - g - xhat gx) with g and gx the row means.
TEXT ·LNBwdDx(SB), NOSPLIT, $0-56
	MOVQ         dx+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         w+24(FP), BX
	MOVQ         n+32(FP), CX
	VBROADCASTSS m+40(FP), Y6
	VBROADCASTSS s+44(FP), Y7
	VBROADCASTSS gmean+48(FP), Y8
	VBROADCASTSS gxmean+52(FP), Y9
	SHRQ         $3, CX
	JZ           lndxdone
lndxloop:
	VMOVUPS      (DX), Y0
	VSUBPS       Y6, Y0, Y0
	VMULPS       Y7, Y0, Y0      // xhat
	VMOVUPS      (SI), Y1
	VMULPS       (BX), Y1, Y1    // dy w
	VSUBPS       Y8, Y1, Y1      // - g
	VFNMADD231PS Y9, Y0, Y1      // - xhat gx
	VMULPS       Y7, Y1, Y1
	VMOVUPS      Y1, (DI)
	ADDQ         $32, DI
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          lndxloop
lndxdone:
	VZEROUPPER
	RET
