package train

// The config sections pretraining and a finetune share, inline in both:
// AdamW's keys, and how a run on a GPU computes (GPUMath), each with its
// checks.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"gptctl/graph"
)

// AdamWConfig is the optimizer's keys, pretraining's and a finetune's.
type AdamWConfig struct {
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	Eps         float64 `yaml:"eps"`
	WeightDecay float64 `yaml:"weight_decay"` // on matrices and embeddings only
}

// validate passes each bad setting to bad.
func (a AdamWConfig) validate(bad func(format string, args ...any)) {
	// The optimizer computes in float32: a beta that rounds to 1 there
	// makes the bias correction 0, an eps that rounds to 0 divides 0 by 0
	// where a gradient is 0; either makes the weights NaN.
	switch {
	case a.Beta1 < 0 || a.Beta1 >= 1 || a.Beta2 < 0 || a.Beta2 >= 1:
		bad("beta1 %v and beta2 %v must be in [0, 1)", a.Beta1, a.Beta2)
	case float32(a.Beta1) == 1 || float32(a.Beta2) == 1:
		bad("beta1 %v and beta2 %v must be below 1 in float32, in which the optimizer computes (at most %v)", a.Beta1, a.Beta2, math.Nextafter32(1, 0))
	}
	switch {
	case a.Eps <= 0:
		bad("eps %v must be positive", a.Eps)
	case float32(a.Eps) == 0:
		bad("eps %v is 0 in float32, in which the optimizer computes: give at least %v", a.Eps, math.SmallestNonzeroFloat32)
	}
	if a.WeightDecay < 0 {
		bad("weight_decay %v must not be negative", a.WeightDecay)
	}
}

// validateLR passes bad the problems of the learning-rate keys, lr,
// min_lr and lr_decay's decay to min_lr, and of lr beside AdamW's: the
// optimizer computes its step size lr/(1-beta1^t) and decay factor
// 1-lr*weight_decay in float32, so each must be a finite float32 (a
// factor at or below 0, which zeroes or flips the decayed weights, is
// PyTorch's too: such an lr is how a run is made to diverge on purpose).
func (a AdamWConfig) validateLR(bad func(format string, args ...any), lr, minLR float64, decay string) {
	switch {
	case lr <= 0 || minLR < 0 || minLR > lr && decay != "constant": // constant never reaches min_lr
		bad("lr %v and min_lr %v must satisfy 0 <= min_lr <= lr, lr > 0 (min_lr is where the decay ends)", lr, minLR)
		return
	case float32(lr) == 0:
		bad("lr %v is 0 in float32, in which the optimizer computes: give at least %v", lr, math.SmallestNonzeroFloat32)
		return
	}
	if a.Beta1 >= 0 && a.Beta1 < 1 && math.Abs(lr/(1-a.Beta1)) > math.MaxFloat32 { // the first step's size
		bad("lr %v over 1-beta1 %.3g, the first step's size, overflows float32, in which the optimizer computes: give an lr below %.3g",
			lr, 1-a.Beta1, math.MaxFloat32*(1-a.Beta1))
	}
	if a.WeightDecay > 0 && lr*a.WeightDecay > math.MaxFloat32 { // the decay factor 1-lr*weight_decay
		bad("lr %v times weight_decay %v, each step's decay, overflows float32, in which the optimizer computes: give a product below 1 (usually below 0.01)",
			lr, a.WeightDecay)
	}
}

// newAdamW is an AdamW over p's weights with these settings.
func (a AdamWConfig) newAdamW(p *graph.Params) *AdamW {
	return NewAdamW(p, a.Beta1, a.Beta2, a.Eps, a.WeightDecay)
}

// GPUMath is how a run on a GPU computes; the CPU ignores it.
type GPUMath struct {
	TF32  bool `yaml:"tf32"`            // float32 products on TF32 tensor cores (weights stay float32)
	BF16  bool `yaml:"bf16"`            // products on bfloat16 copies of their operands, float32 accumulation (weights stay float32); overrides tf32
	Flash bool `yaml:"flash_attention"` // attention in tiles without the t×t probabilities (flash.cu; with TF32, head size 16, 32 or 64)
}

// set names the GPU-only settings g turns on that change the math
// (bf16, flash_attention; tf32 is on by default), "" when none.
func (g GPUMath) set() string {
	var on []string
	if g.BF16 {
		on = append(on, "bf16")
	}
	if g.Flash {
		on = append(on, "flash_attention")
	}
	return strings.Join(on, " and ")
}

// validate reports settings that contradict each other.
func (g GPUMath) validate() error {
	if g.Flash && !g.TF32 {
		return errors.New("flash_attention: true needs tf32: true (flash.cu multiplies on TF32 tensor cores); set one of them")
	}
	return nil
}

// flashNotice says when flash_attention cannot apply to a model whose heads
// have hs dimensions: its attention stays on the batched path.
func (g GPUMath) flashNotice(log io.Writer, hs int) {
	if g.Flash && !graph.FlashHeadSize(hs) {
		fmt.Fprintf(log, "flash_attention: head size %d (n_embd/n_head) is not 16, 32 or 64: attention stays on the batched path\n", hs)
	}
}
