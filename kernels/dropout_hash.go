package kernels

// dropoutMaskHash is the CPU twin of dropout_mask_f32 (dropout.cu): mask[i]
// is hashKeep(p, seed, offset+i).
func dropoutMaskHash(mask []float32, p float32, seed, offset uint64) {
	for i := range mask {
		mask[i] = hashKeep(p, seed, offset+uint64(i))
	}
}

// hashKeep is the dropout multiplier of element i of a mask drawn from
// seed (dropout_hash.cuh's drop_keep): 0 when u < p and 1/(1-p) otherwise,
// u the top 24 bits of splitmix64(seed + i*golden) over 2^24.
func hashKeep(p float32, seed, i uint64) float32 {
	z := seed + i*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	if float32(z>>40)*(1.0/16777216) < p {
		return 0
	}
	return 1 / (1 - p)
}
