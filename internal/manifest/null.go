package manifest

import "go.yaml.in/yaml/v3"

// spellNulls writes out as "null" every implicit null (an empty value) that
// the YAML encoder would otherwise write back as an empty quoted string: one
// inside a flow collection ({a: }), one with an anchor (&x), and a null
// mapping key. Without it a round trip through Encode would change what the
// manifest says. Block-style nulls (a:) are left as they are.
func spellNulls(n *yaml.Node, inFlow, isKey bool) {
	inFlow = inFlow || n.Style&yaml.FlowStyle != 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && (inFlow || isKey || n.Anchor != "") {
		n.Value = "null"
	}
	for i, c := range n.Content {
		spellNulls(c, inFlow, n.Kind == yaml.MappingNode && i%2 == 0)
	}
}
