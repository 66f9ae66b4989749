package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// patchOp is one RFC 6902 JSON Patch operation.
type patchOp struct {
	Op    string
	Path  string
	Value any
}

// MarshalJSON writes the operation, with value (even null) unless it is a
// remove.
func (o patchOp) MarshalJSON() ([]byte, error) {
	if o.Op == "remove" {
		return json.Marshal(struct {
			Op   string `json:"op"`
			Path string `json:"path"`
		}{o.Op, o.Path})
	}
	return json.Marshal(struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}{o.Op, o.Path, o.Value})
}

// decodeJSON decodes with numbers kept as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonPatch returns the operations that turn document from into to.
func jsonPatch(from, to []byte) ([]patchOp, error) {
	a, err := decodeJSON(from)
	if err != nil {
		return nil, fmt.Errorf("webhook: decode original: %w", err)
	}
	b, err := decodeJSON(to)
	if err != nil {
		return nil, fmt.Errorf("webhook: decode patched: %w", err)
	}
	var ops []patchOp
	diff("", a, b, &ops)
	return ops, nil
}

func diff(path string, a, b any, ops *[]patchOp) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			*ops = append(*ops, patchOp{Op: "replace", Path: path, Value: b})
			return
		}
		keys := make([]string, 0, len(av)+len(bv))
		for k := range av {
			keys = append(keys, k)
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := path + "/" + escape(k)
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case inA && !inB:
				*ops = append(*ops, patchOp{Op: "remove", Path: p})
			case !inA && inB:
				*ops = append(*ops, patchOp{Op: "add", Path: p, Value: y})
			default:
				diff(p, x, y, ops)
			}
		}
	case []any:
		bv, ok := b.([]any)
		switch {
		case !ok:
			*ops = append(*ops, patchOp{Op: "replace", Path: path, Value: b})
		case len(av) == len(bv):
			for i := range av {
				diff(path+"/"+strconv.Itoa(i), av[i], bv[i], ops)
			}
		case len(bv) > len(av) && reflect.DeepEqual(av, bv[:len(av)]):
			for _, v := range bv[len(av):] {
				*ops = append(*ops, patchOp{Op: "add", Path: path + "/-", Value: v})
			}
		default:
			*ops = append(*ops, patchOp{Op: "replace", Path: path, Value: b})
		}
	default:
		if !scalarEqual(a, b) {
			*ops = append(*ops, patchOp{Op: "replace", Path: path, Value: b})
		}
	}
}

// scalarEqual compares scalars, numbers by value.
func scalarEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		if an == bn {
			return true
		}
		af, err1 := an.Float64()
		bf, err2 := bn.Float64()
		return err1 == nil && err2 == nil && af == bf
	}
	return reflect.DeepEqual(a, b)
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
