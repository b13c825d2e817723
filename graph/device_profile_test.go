package graph

import (
	"reflect"
	"testing"
)

// The profile groups ops by kind (the op's name without its shapes) and
// lists the most expensive kind first, ties by name.
func TestDeviceProfileGroupsByKind(t *testing.T) {
	StartDeviceProfile()
	p := deviceProfile.Load()
	p.add("MatMul(64, 128)", 1.5)
	p.add("LayerNorm (eps 1e-05)", 0.25)
	p.add("MatMul(128, 64)", 0.5)
	p.add("GELU", 0.25)
	got := StopDeviceProfile()
	want := []OpTime{
		{Op: "MatMul", Calls: 2, MS: 2},
		{Op: "GELU", Calls: 1, MS: 0.25},
		{Op: "LayerNorm", Calls: 1, MS: 0.25},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("profile = %+v, want %+v", got, want)
	}
	if again := StopDeviceProfile(); again != nil {
		t.Fatalf("a stopped profile returned %+v, want nil", again)
	}
}
