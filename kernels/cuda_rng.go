//go:build cuda

package kernels

// dropoutMaskHash is the CPU twin of dropout_mask_f32 (dropout.cu): mask[i]
// is 0 when u < p and 1/(1-p) otherwise, u the top 24 bits of
// splitmix64(seed + (offset+i)*golden) over 2^24.
func dropoutMaskHash(mask []float32, p float32, seed, offset uint64) {
	keep := 1 / (1 - p)
	for i := range mask {
		z := seed + (offset+uint64(i))*0x9e3779b97f4a7c15
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		u := float32(z>>40) * (1.0 / 16777216)
		if u < p {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
	}
}
