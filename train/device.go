package train

// Where a pretraining run's steps execute. On the CPU, run keeps a
// graph.Trainer, host gradients, graph.ClipGrads and AdamW. On a GPU (a
// build with the cuda tag, device: cuda or auto with a usable GPU) a
// gpuTrainer does the same on the device: weights, gradients and AdamW
// moments stay there, a step uploads its batch and makes no other round
// trip than the gradient norm it needs to refuse a non-finite step, and
// the loss comes back only on the steps that log it.

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// deviceMemory turns err, where a GPU allocation failed for want of memory
// (graph.ErrDeviceMemory), into a ConfigError (exit status 2: the job
// asks for more than the device has, and would fail again unchanged) that
// ends with fix, the settings that take less.
func deviceMemory(err error, fix string) error {
	var ce *ConfigError
	if err == nil || !errors.Is(err, graph.ErrDeviceMemory) || errors.As(err, &ce) {
		return err
	}
	return &ConfigError{fmt.Errorf("%w: the job needs more GPU memory than there is; %s", err, fix)}
}

// modelOptions is how a model is built for training on device: on the GPU
// the LM head's rows padded to a multiple of 64, so that the logits' rows
// are aligned for cuBLAS's tensor-core kernels (graph.PadVocab).
func modelOptions(device string) []graph.Option {
	if device == "cuda" {
		return []graph.Option{graph.PadVocab(64)}
	}
	return nil
}

// inferenceOptions are modelOptions for a model that only runs forward
// (evaluation, prediction, scoring): on the CPU its activations share
// memory by lifetime (graph.ForwardOnly).
func inferenceOptions(device string) []graph.Option {
	if device == "cpu" {
		return []graph.Option{graph.ForwardOnly()}
	}
	return modelOptions(device)
}

// gpuTrainer is a run's training step on a GPU (device_gpu.go).
type gpuTrainer interface {
	// step runs one optimizer step: accum micro-batches, each put into the
	// model's input nodes by fill, their mean gradient clipped to clip and
	// applied by AdamW at lr. When look, it waits for the device and
	// returns the loss (the mean over the micro-batches) and the gradient
	// norm; when that norm is not finite the weights are left alone. When
	// not, it returns NaN for both without waiting, and a step whose norm
	// is not finite is refused on the device, with every step after it,
	// until a step that looks (or sync) reports it as a *lateNonFinite.
	// weights, when not nil, are the micro-batches' weights in the mean
	// gradient (summing to 1), in place of 1/accum each; the loss returned
	// is the plain mean all the same.
	step(fill func() error, accum int, weights []float32, clip float64, lr float64, look bool) (loss, gradNorm float64, err error)
	// eval returns the loss of the batch in the input nodes, in evaluation mode.
	eval() (float64, error)
	// grad downloads the gradient of weight i (nil if it has none).
	grad(i int) ([]float32, error)
	// predict computes out over the batch in the input nodes, in evaluation
	// mode, and downloads it.
	predict(out *G.Node) ([]float32, error)
	// window adds scale times the first value of each of outs, outputs of
	// the (micro-)batch just run (the loss, a finetune's L2 and L1), to a
	// device sum per output, without waiting; when take it waits and
	// returns the sums since the last take, and starts them again from
	// zero. window(true, 1) with no outs takes the sums of every slot, in
	// the order the outputs were given.
	window(take bool, scale float32, outs ...*G.Node) ([]float64, error)
	// sync copies the device weights into the model's Params and the AdamW
	// moments into o, for a checkpoint or the best model; it returns a
	// *lateNonFinite instead when the device has refused a step.
	sync(o *AdamW) error
	// attention names the path the model's attention took in its last
	// run: flash (flash.cu) or batched (products and row kernels).
	attention() string
	close()
}

// gpuForward is a model's forward pass on a GPU for inference (eval,
// predict): the weights are uploaded once, the inputs by every run.
type gpuForward interface {
	// run computes the outputs over the inputs' current host values
	// without waiting; value downloads one of them, waiting for the device.
	run() error
	value(out *G.Node) ([]float32, error)
	// lossRows is the number of positions a loss output averaged over in
	// the last run.
	lossRows(loss *G.Node) (int, error)
	close()
}

// lateNonFinite is a GPU step's news that an earlier step, back steps
// before the last one run, had a non-finite gradient norm: the device
// refused its update and every later one, so the weights and moments are
// as they were before it.
type lateNonFinite struct{ back int }

func (e *lateNonFinite) Error() string {
	return fmt.Sprintf("the gradient norm of a step %d steps ago was not finite", e.back)
}

// at says which step it was, given the number of the last step run, for
// NonFiniteError's message.
func (e *lateNonFinite) at(last int) error {
	return fmt.Errorf("the gradient norm of step %d was not finite; the weights are as they were before it (lower lr)",
		last-e.back)
}
