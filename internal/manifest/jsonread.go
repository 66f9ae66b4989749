package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// readJSON reads a stream kubectl takes for JSON: JSON values one after
// another. ok is false when the first value is not JSON (kubectl then
// reads the whole stream as YAML); a stream that starts as JSON and goes
// on as something else is refused.
func readJSON(data []byte, lastWins bool) (docs []*Document, ok bool, err error) {
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var raw json.RawMessage
		start := dec.InputOffset()
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return docs, true, nil
		}
		if err != nil {
			if i == 0 {
				return nil, false, nil
			}
			return nil, false, &ParseError{Line: lines.pos(int(dec.InputOffset())).Line,
				Msg: "the file starts as JSON and goes on as something else: write it all as JSON or all as YAML"}
		}
		off := int(start) + bytes.Index(data[start:], raw)
		r := &jsonReader{dec: json.NewDecoder(bytes.NewReader(raw)), data: raw, base: off, lines: lines, lastWins: lastWins}
		r.dec.UseNumber()
		v, err := r.value(0)
		if err != nil {
			return nil, false, err
		}
		d := &Document{Index: i, Line: lines.pos(off).Line}
		if !v.IsNull() {
			d.Value = v
		}
		docs = append(docs, d)
	}
}

// jsonReader builds a Value with positions from one JSON value.
type jsonReader struct {
	dec      *json.Decoder
	data     []byte
	base     int
	lines    lineIndex
	lastWins bool
}

// next returns the next token and the offset (in the file) where it
// starts.
func (r *jsonReader) next() (json.Token, int, error) {
	from := int(r.dec.InputOffset())
	tok, err := r.dec.Token()
	if err != nil {
		return nil, 0, &ParseError{Line: r.lines.pos(r.base + from).Line, Msg: fmt.Sprintf("invalid JSON: %v", err)}
	}
	for from < len(r.data) && bytes.IndexByte([]byte(" \t\r\n,:"), r.data[from]) >= 0 {
		from++
	}
	return tok, r.base + from, nil
}

func (r *jsonReader) value(depth int) (*Value, error) {
	tok, at, err := r.next()
	if err != nil {
		return nil, err
	}
	return r.fromToken(tok, at, depth)
}

func (r *jsonReader) fromToken(tok json.Token, at, depth int) (*Value, error) {
	pos := r.lines.pos(at)
	if depth > maxDepth {
		return nil, &ParseError{Line: pos.Line, Msg: "the document nests too deeply"}
	}
	var v *Value
	switch t := tok.(type) {
	case nil:
		v = NewNull()
	case bool:
		v = NewBool(t)
	case string:
		v = NewString(t)
	case json.Number:
		n, err := numberValue(string(t))
		if err != nil {
			return nil, &ParseError{Line: pos.Line, Msg: err.Error()}
		}
		v = n
	case json.Delim:
		switch t {
		case '[':
			v = NewList()
			for r.dec.More() {
				it, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				v.items = append(v.items, it)
			}
			if _, _, err := r.next(); err != nil {
				return nil, err
			}
		case '{':
			m, err := r.object(depth)
			if err != nil {
				return nil, err
			}
			v = m
		}
	}
	v.pos = pos
	return v, nil
}

func (r *jsonReader) object(depth int) (*Value, error) {
	v := NewMap()
	seen := map[string]Pos{}
	for r.dec.More() {
		tok, at, err := r.next()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		kpos := r.lines.pos(at)
		if prev, dup := seen[key]; dup && !r.lastWins {
			return nil, duplicateKey(key, kpos, prev)
		}
		seen[key] = kpos
		val, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		val.pos = kpos
		v.Put(key, val)
	}
	if _, _, err := r.next(); err != nil {
		return nil, err
	}
	return v, nil
}

// lineIndex turns byte offsets into lines and columns.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range data {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) pos(off int) Pos {
	i := sort.Search(len(l), func(i int) bool { return l[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return Pos{Line: i + 1, Column: off - l[i] + 1}
}
