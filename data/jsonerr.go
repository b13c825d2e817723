package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// JSONError says what a JSON decoding error means without Go's type
// names: a value of the wrong kind is named by its field (when it has one)
// with the kind found and the kind wanted ("n_layer": a string, want an
// integer); other errors pass through.
func JSONError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	want := jsonKind(te.Type)
	if want == "" {
		return err
	}
	if want == "a number" && strings.HasPrefix(te.Value, "number ") { // a number too large for a float
		return fmt.Errorf("%q: the %s is out of range", te.Field, te.Value)
	}
	if te.Field != "" {
		return fmt.Errorf("%q: %s, want %s", te.Field, withArticle(te.Value), want)
	}
	return fmt.Errorf("%s where %s is wanted", withArticle(te.Value), want)
}

// jsonKind is the JSON value t decodes from, in words.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return ""
}

// withArticle puts "a" or "an" before the JSON kind encoding/json names
// ("string", "array", "number -1"): "a string", "an array", "the number -1".
func withArticle(kind string) string {
	switch {
	case kind == "bool":
		return "a boolean"
	case kind == "array" || kind == "object":
		return "an " + kind
	case len(kind) > 7 && kind[:7] == "number ":
		return "the " + kind
	}
	return "a " + kind
}
