package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// JSON value kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is one JSON value exactly as raygate read it. Objects keep their
// keys in the order sent and never hold a key twice; numbers keep their
// literal. Encoding a Value gives JSON that any parser reads as the same
// document, which is what Ray is sent.
type Value struct {
	Kind Kind
	// Bool is the value of a Bool.
	Bool bool
	// Num is the literal of a Number, as sent (e.g. "1.5e3").
	Num string
	// Str is the value of a String.
	Str string
	// Items are the elements of an Array.
	Items []Value
	// Fields are the members of an Object, in order.
	Fields []Field
}

// Field is one member of a JSON object.
type Field struct {
	Key   string
	Value Value
}

// Get returns the member key of an object.
func (v Value) Get(key string) (Value, bool) {
	for _, f := range v.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return Value{}, false
}

// MaxDepth bounds the nesting of arrays and objects in a body raygate
// reads.
const MaxDepth = 64

// ParseJSON reads data as exactly one JSON value. It refuses what parsers
// could read differently: bytes that are not UTF-8, a key twice in one
// object, nesting deeper than MaxDepth, and anything after the value.
func ParseJSON(data []byte) (Value, error) {
	if !utf8.Valid(data) {
		return Value{}, errors.New("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return Value{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Value{}, errors.New("body has data after the JSON value")
	}
	return v, nil
}

var errNotJSON = errors.New("body is not valid JSON")

func parseValue(dec *json.Decoder, depth int) (Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return Value{}, errNotJSON
	}
	switch t := tok.(type) {
	case nil:
		return Value{Kind: Null}, nil
	case bool:
		return Value{Kind: Bool, Bool: t}, nil
	case json.Number:
		return Value{Kind: Number, Num: string(t)}, nil
	case string:
		return Value{Kind: String, Str: t}, nil
	case json.Delim:
		if depth >= MaxDepth {
			return Value{}, errors.New("body nests deeper than " + strconv.Itoa(MaxDepth) + " levels")
		}
		switch t {
		case '[':
			v := Value{Kind: Array, Items: []Value{}}
			for dec.More() {
				item, err := parseValue(dec, depth+1)
				if err != nil {
					return Value{}, err
				}
				v.Items = append(v.Items, item)
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, errNotJSON
			}
			return v, nil
		case '{':
			v := Value{Kind: Object, Fields: []Field{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return Value{}, errNotJSON
				}
				key, ok := kt.(string)
				if !ok {
					return Value{}, errNotJSON
				}
				if _, dup := v.Get(key); dup {
					return Value{}, errors.New("key " + strconv.Quote(key) + " appears twice in one object")
				}
				item, err := parseValue(dec, depth+1)
				if err != nil {
					return Value{}, err
				}
				v.Fields = append(v.Fields, Field{Key: key, Value: item})
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, errNotJSON
			}
			return v, nil
		}
	}
	return Value{}, errNotJSON
}

// AppendJSON appends the encoding of v to b.
func (v Value) AppendJSON(b []byte) []byte {
	switch v.Kind {
	case Bool:
		return strconv.AppendBool(b, v.Bool)
	case Number:
		return append(b, v.Num...)
	case String:
		return appendString(b, v.Str)
	case Array:
		b = append(b, '[')
		for i, item := range v.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = item.AppendJSON(b)
		}
		return append(b, ']')
	case Object:
		b = append(b, '{')
		for i, f := range v.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Key)
			b = append(b, ':')
			b = f.Value.AppendJSON(b)
		}
		return append(b, '}')
	default:
		return append(b, "null"...)
	}
}

// appendString appends s as a JSON string. s is valid UTF-8 (it was
// decoded by encoding/json), so json.Marshal cannot fail.
func appendString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}
