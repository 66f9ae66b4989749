package harden

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// flatten lists the field paths of n in document order.
func flatten(prefix string, n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	var out []string
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := prefix + "." + n.Content[i].Value
			out = append(out, p)
			out = append(out, flatten(p, n.Content[i+1])...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, flatten(fmt.Sprintf("%s[%d]", prefix, i), c)...)
		}
	}
	return out
}
