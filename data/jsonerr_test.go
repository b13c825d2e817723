package data

import (
	"encoding/json"
	"testing"
)

func TestJSONError(t *testing.T) {
	var cfg struct {
		NLayer int               `json:"n_layer"`
		Shape  []int64           `json:"shape"`
		Seed   uint64            `json:"seed"`
		Meta   map[string]string `json:"meta"`
	}
	var obj map[string]any
	for _, c := range []struct {
		in   string
		into any
		want string
	}{
		{`{"n_layer": "1"}`, &cfg, `"n_layer": a string, want an integer`},
		{`{"shape": {"a": 1}}`, &cfg, `"shape": an object, want an array`},
		{`{"seed": -1}`, &cfg, `"seed": the number -1, want a whole number, 0 or more`},
		{`{"meta": {"a": 1}}`, &cfg, `"meta": a number, want a string`},
		{`[1, 2]`, &obj, `an array where an object is wanted`},
		{`{"eps": 1e999}`, &struct {
			Eps float64 `json:"eps"`
		}{}, `"eps": the number 1e999 is out of range`},
		{`{"n_layer": true}`, &cfg, `"n_layer": a boolean, want an integer`},
		{`{"n_layer": 1`, &cfg, `unexpected end of JSON input`},
	} {
		if got := JSONError(json.Unmarshal([]byte(c.in), c.into)).Error(); got != c.want {
			t.Errorf("%s: %q, want %q", c.in, got, c.want)
		}
	}
}
