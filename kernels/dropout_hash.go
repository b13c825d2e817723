package kernels

import "math"

// dropoutMaskHash is the CPU twin of dropout_mask_f32 (dropout.cu): mask[i]
// is hashKeep(p, seed, offset+i). The CPU ops need no mask (dropoutApply,
// AttentionForward); the tests compare the device's with it.
func dropoutMaskHash(mask []float32, p float32, seed, offset uint64) {
	k := newKeeper(p)
	for i := range mask {
		mask[i] = k.at(seed, offset+uint64(i))
	}
}

// dropoutApply writes y[i] = x[i] * hashKeep(p, seed, i): a dropout's
// forward pass, and with dy for x its backward.
func dropoutApply(y, x []float32, p float32, seed uint64) {
	y = y[:len(x)]
	k := newKeeper(p)
	parallelRanges(len(x), blocks(len(x), dropoutBlock), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = x[i] * k.at(seed, uint64(i))
		}
	})
}

// dropoutBlock is the elements of a mask one parallel chunk draws.
const dropoutBlock = 1 << 15

// hashKeep is the dropout multiplier of element i of a mask drawn from
// seed (dropout_hash.cuh's drop_keep): 0 when u < p and 1/(1-p) otherwise,
// u the top 24 bits of splitmix64(seed + i*golden) over 2^24.
func hashKeep(p float32, seed, i uint64) float32 {
	if float32(mix64(seed+i*golden)>>40)*(1.0/16777216) < p {
		return 0
	}
	return 1 / (1 - p)
}

const golden = 0x9e3779b97f4a7c15

// mix64 is splitmix64's output function.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// keeper is hashKeep for one p, its division and float comparison done
// once: u/2^24 < p, for the 24-bit integer u, is u < ceil(p*2^24).
type keeper struct {
	keep float32
	drop uint64 // u below it drops
}

func newKeeper(p float32) keeper {
	return keeper{keep: 1 / (1 - p), drop: uint64(math.Ceil(float64(p) * (1 << 24)))}
}

// at is hashKeep(p, seed, i).
func (k keeper) at(seed, i uint64) float32 {
	m := k.keep
	if mix64(seed+i*golden)>>40 < k.drop {
		m = 0
	}
	return m
}
