package kernels

import "math"

// BF16 rounds x to bfloat16 (the top 16 bits of a float32), to nearest
// even; a NaN stays a quiet NaN. The CPU twin of convert.cu.
func BF16(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// FromBF16 widens a bfloat16 to float32 (exactly).
func FromBF16(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }
