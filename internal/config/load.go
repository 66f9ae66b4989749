package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a config file; a larger one is refused unread.
const MaxFileSize = 4 << 20

// Load reads, defaults and validates the config at path. An invalid file
// returns Problems listing everything wrong with it.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("cannot read config: %v", unwrapPathErr(err))}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("cannot read config: %v", unwrapPathErr(err))}}
	}
	if len(data) > MaxFileSize {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("config is larger than %d bytes", MaxFileSize)}}
	}
	return data, nil
}

// Parse is Load for bytes already read; name is used in messages and
// relative paths in the config are resolved against its folder.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, false)
}

// LoadPolicy is Load for reading who may do what, away from where raygate
// is deployed: problems with the files the config names (certificates,
// Ray tokens, the audit folder, kubeconfigs) are ignored; everything else
// is checked as Load checks it.
func LoadPolicy(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePolicy(path, data)
}

// ParsePolicy is LoadPolicy for bytes already read.
func ParsePolicy(name string, data []byte) (*Config, error) {
	return parse(name, data, true)
}

func parse(name string, data []byte, policy bool) (*Config, error) {
	p := &parser{file: name, lines: map[string]int{}}
	c := p.parse(data)
	if len(p.problems) > 0 {
		return nil, p.sorted()
	}
	c.File = name
	c.applyDefaults()
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	c.resolvePaths(dir)
	v := &validator{file: name, lines: p.lines}
	c.validate(v)
	problems := v.problems
	if policy {
		problems = problems[:0:0]
		for _, pr := range v.problems {
			if !pr.NamedFile {
				problems = append(problems, pr)
			}
		}
	}
	if len(problems) > 0 {
		return nil, sortProblems(problems)
	}
	c.placeBindings(name, p.lines)
	c.warnings = sortProblems(v.warnings)
	return c, nil
}

// placeBindings records where each binding is written.
func (c *Config) placeBindings(file string, lines map[string]int) {
	place := func(path string, bs []Binding) {
		for j := range bs {
			f := fmt.Sprintf("%s[%d]", path, j)
			bs[j].Position = Position{File: file, Line: lines[f], Field: f}
		}
	}
	for i := range c.Clusters {
		place(fmt.Sprintf("clusters[%d].access", i), c.Clusters[i].Access)
	}
	if d := c.Discovery.Kubernetes; d != nil {
		place("discovery.kubernetes.access", d.Access)
	}
}

type parser struct {
	file     string
	lines    map[string]int
	problems Problems
}

func (p *parser) add(line int, field, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) sorted() Problems { return sortProblems(p.problems) }

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Config {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(0, "", "config is empty")
			return nil
		}
		p.addYAMLError(err, "invalid YAML: ")
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.add(extra.Line, "", "config must be a single YAML document")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.addYAMLError(err, "invalid YAML: ")
		return nil
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
		p.add(0, "", "config is empty")
		return nil
	}
	root := doc.Content[0]
	p.walk(root, reflect.TypeOf(Config{}), "")
	if len(p.problems) > 0 {
		return nil
	}
	var c Config
	if err := root.Decode(&c); err != nil {
		p.addYAMLError(err, "")
		return nil
	}
	return &c
}

// addYAMLError turns a yaml.v3 error into problems with line numbers.
func (p *parser) addYAMLError(err error, prefix string) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if sm := yamlLineRE.FindStringSubmatch(strings.TrimPrefix(m, "yaml: unmarshal errors:\n  ")); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			p.add(line, "", "%s%s", prefix, cleanYAMLMessage(sm[2]))
			continue
		}
		p.add(0, "", "%s%s", prefix, cleanYAMLMessage(strings.TrimPrefix(m, "yaml: ")))
	}
}

var goTypeRE = regexp.MustCompile(` into (\[\])?(\*)?(config\.)?[A-Za-z0-9_.]+`)

// cleanYAMLMessage removes Go type names from yaml.v3 messages.
func cleanYAMLMessage(m string) string {
	m = goTypeRE.ReplaceAllStringFunc(m, func(s string) string {
		switch {
		case strings.Contains(s, "int"):
			return " into a number"
		case strings.Contains(s, "bool"):
			return " into true/false"
		case strings.Contains(s, "[]"):
			return " into a list"
		case strings.Contains(s, "string"):
			return " into a string"
		default:
			return " into a mapping"
		}
	})
	return strings.ReplaceAll(m, "!!", "")
}

// walk checks node against the shape of t, recording each field's line and
// reporting unknown fields and wrong kinds.
func (p *parser) walk(node *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	if path != "" {
		if _, seen := p.lines[path]; !seen {
			p.lines[path] = node.Line
		}
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		if u, ok := reflect.New(t).Interface().(yaml.Unmarshaler); ok {
			if err := u.UnmarshalYAML(node); err != nil {
				p.add(node.Line, path, "%v", err)
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			p.add(node.Line, path, "expected a mapping, got a %s", kindName(node.Kind))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if k.Value == "<<" {
				p.add(k.Line, path, "merge keys (<<) are not supported")
				continue
			}
			sub := joinPath(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				p.lines[sub] = k.Line
				p.add(k.Line, sub, "unknown field%s", suggest(k.Value, fields))
				continue
			}
			p.lines[sub] = k.Line
			p.walk(v, f.Type, sub)
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			p.add(node.Line, path, "expected a list, got a %s", kindName(node.Kind))
			return
		}
		for i, item := range node.Content {
			p.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			p.add(node.Line, path, "expected a mapping, got a %s", kindName(node.Kind))
			return
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			sub := joinPath(path, k.Value)
			p.lines[sub] = k.Line
			p.walk(v, t.Elem(), sub)
		}
	default:
		if node.Kind != yaml.ScalarNode {
			p.add(node.Line, path, "expected a single value, got a %s", kindName(node.Kind))
			return
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int64:
			if node.Tag != "!!int" {
				p.add(node.Line, path, "expected a whole number, got %q", node.Value)
			}
		case reflect.Bool:
			if node.Tag != "!!bool" {
				p.add(node.Line, path, "expected true or false, got %q", node.Value)
			}
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// suggest names the closest known field, if one is close.
func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return " (known fields: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func sortStrings(s []string) { sort.Strings(s) }

func sortProblems(ps Problems) Problems {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}
