package manifest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
)

// kubectl converts YAML to JSON with sigs.k8s.io/yaml, which reads YAML
// with go-yaml v2: YAML 1.1 scalars (yes/no/on/off are booleans; 0x1F,
// 0o17, 017, 0b101, 1_000 and +1 are integers). The functions here
// resolve scalars by those rules, from the text and style yaml.v3 keeps.

// Short tags of the YAML core types.
const (
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagBool      = "!!bool"
	tagNull      = "!!null"
	tagBinary    = "!!binary"
	tagTimestamp = "!!timestamp"
	tagMerge     = "!!merge"
	tagMap       = "!!map"
	tagSeq       = "!!seq"
)

// yaml11Words are the plain scalars go-yaml v2 reads as booleans, nulls
// and special floats.
var yaml11Words = map[string]any{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"true": true, "True": true, "TRUE": true,
	"on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"false": false, "False": false, "FALSE": false,
	"off": false, "Off": false, "OFF": false,
	"": nil, "~": nil, "null": nil, "Null": nil, "NULL": nil,
	".nan": math.NaN(), ".NaN": math.NaN(), ".NAN": math.NaN(),
	".inf": math.Inf(1), ".Inf": math.Inf(1), ".INF": math.Inf(1),
	"+.inf": math.Inf(1), "+.Inf": math.Inf(1), "+.INF": math.Inf(1),
	"-.inf": math.Inf(-1), "-.Inf": math.Inf(-1), "-.INF": math.Inf(-1),
}

var yaml11Float = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// timestampText is a YAML timestamp: a string, as go-yaml v2 hands
// timestamps to untyped targets.
type timestampText string

// resolve11 reads text as a YAML 1.1 scalar with the given tag ("" when
// none was written), returning the type it resolves to (a short tag) and
// its value.
func resolve11(tag, text string) (string, any, error) {
	rtag, v := guess11(tag, text)
	switch {
	case tag == "" || tag == rtag || tag == tagStr || tag == tagBinary:
		return rtag, v, nil
	case tag == tagFloat && rtag == tagInt:
		if n, ok := v.(int64); ok {
			return tagFloat, float64(n), nil
		}
	}
	return "", nil, fmt.Errorf("cannot read %s %q as %s", rtag, text, tag)
}

// guess11 resolves text as go-yaml v2 does; its first character decides
// what the text may be.
func guess11(tag, text string) (string, any) {
	if tag == tagStr || tag == tagBinary {
		return tagStr, text
	}
	hint := byte('N')
	if text != "" {
		switch c := text[0]; {
		case c == '+' || c == '-':
			hint = 'S'
		case c >= '0' && c <= '9':
			hint = 'D'
		case strings.IndexByte("yYnNtTfFoO~", c) >= 0:
			hint = 'M'
		case c == '.':
			hint = '.'
		default:
			hint = 0
		}
	}
	if hint == 0 {
		return tagStr, text
	}
	if v, ok := yaml11Words[text]; ok {
		switch v.(type) {
		case bool:
			return tagBool, v
		case float64:
			return tagFloat, v
		}
		return tagNull, nil
	}
	switch hint {
	case '.':
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return tagFloat, f
		}
	case 'D', 'S':
		if tag == "" || tag == tagTimestamp {
			if isTimestamp(text) {
				return tagTimestamp, timestampText(text)
			}
		}
		plain := strings.ReplaceAll(text, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return tagInt, i
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return tagInt, u
		}
		if yaml11Float.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return tagFloat, f
			}
		}
		if rest, ok := strings.CutPrefix(plain, "0b"); ok {
			if i, err := strconv.ParseInt(rest, 2, 64); err == nil {
				return tagInt, i
			}
			if u, err := strconv.ParseUint(rest, 2, 64); err == nil {
				return tagInt, u
			}
		} else if rest, ok := strings.CutPrefix(plain, "-0b"); ok {
			if i, err := strconv.ParseInt("-"+rest, 2, 64); err == nil {
				return tagInt, i
			}
		}
	}
	return tagStr, text
}

// timestampLayouts are the YAML timestamp forms go-yaml v2 recognises.
var timestampLayouts = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

func isTimestamp(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, l := range timestampLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// isTagged reports whether n carries a tag written in the document.
func isTagged(n *yaml.Node) bool { return n.Style&yaml.TaggedStyle != 0 }

// isPlain reports whether a scalar is written without quotes or block
// style.
func isPlain(n *yaml.Node) bool {
	return n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// scalarGo resolves a scalar node to the Go value go-yaml v2 decodes it
// into (string, bool, int64, uint64, float64, timestampText or nil).
func scalarGo(n *yaml.Node) (any, error) {
	if !isTagged(n) {
		if !isPlain(n) {
			return n.Value, nil
		}
		_, v, err := resolve11("", n.Value)
		return v, err
	}
	switch n.Tag {
	case tagStr, tagMerge:
		return n.Value, nil
	case tagBinary:
		b, err := base64.StdEncoding.DecodeString(n.Value)
		if err != nil {
			return nil, errors.New("!!binary value is not base64")
		}
		return string(b), nil
	case tagInt, tagFloat, tagBool, tagNull, tagTimestamp:
		_, v, err := resolve11(n.Tag, n.Value)
		return v, err
	}
	return nil, fmt.Errorf("tag %s is not supported (raygate reads the YAML core tags only)", n.Tag)
}

// jsonOf turns a Go value as go-yaml v2 decodes it into what the API
// server sees: sigs.k8s.io/yaml marshals it to JSON, and apimachinery
// reads that JSON back with integers kept as int64.
func jsonOf(v any) (*Value, error) {
	switch t := v.(type) {
	case timestampText:
		return NewString(string(t)), nil
	case string:
		if utf8.ValidString(t) {
			return NewString(t), nil
		}
	case bool:
		return NewBool(t), nil
	case nil:
		return NewNull(), nil
	case int64:
		return NewInt(t), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%v has no JSON form", v)
	}
	var out any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(b, &out); err != nil {
		return nil, err
	}
	r, err := FromInterface(out)
	if err != nil {
		return nil, err
	}
	r.num = ""
	return r, nil
}

// keyString names a mapping key as sigs.k8s.io/yaml does when it turns
// go-yaml v2's map keys into JSON object keys.
func keyString(v any) (string, error) {
	switch k := v.(type) {
	case string:
		return k, nil
	case timestampText:
		return string(k), nil
	case int64:
		return strconv.FormatInt(k, 10), nil
	case bool:
		return strconv.FormatBool(k), nil
	case float64:
		if math.IsNaN(k) {
			return "", errors.New("a NaN key has no stable JSON form")
		}
		s := strconv.FormatFloat(k, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		}
		return s, nil
	case nil:
		return "", errors.New("a null key has no JSON form")
	}
	return "", fmt.Errorf("key %v has no JSON form", v)
}

// cleanJSONError rewords encoding/json type errors without Go type names:
// "spec.containers.image: expected a string, got an object".
func cleanJSONError(msg string) string {
	msg = strings.TrimPrefix(msg, "json: ")
	if m := structFieldErr.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s: expected %s, got %s", m[2], goTypeName(m[3]), jsonKindName(m[1]))
	}
	if m := valueErr.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("expected %s, got %s", goTypeName(m[2]), jsonKindName(m[1]))
	}
	return msg
}

var (
	structFieldErr = regexp.MustCompile(`cannot unmarshal (\w+) into Go struct field [^ .]*\.(\S+) of type (\S+)`)
	valueErr       = regexp.MustCompile(`cannot unmarshal (\w+) into Go value of type (\S+)`)
)

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		return "a number"
	}
	return "a mapping"
}

func jsonKindName(k string) string {
	switch k {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	}
	return "a " + k
}
