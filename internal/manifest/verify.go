package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
)

// verify reads data again with kubectl's own decoder (apimachinery's
// YAMLOrJSONDecoder, which converts YAML with sigs.k8s.io/yaml, then
// UnstructuredJSONScheme) and refuses the file unless every document and
// every object is what raygate read, field for field.
func verify(data []byte, f *File) error {
	data, err := checkEncoding(data)
	if err != nil {
		return err
	}
	var ours []*Document
	for _, d := range f.Docs {
		if d.Value != nil {
			ours = append(ours, d)
		}
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	i := 0
	for {
		var ext runtime.RawExtension
		err := dec.Decode(&ext)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &ParseError{Msg: fmt.Sprintf("kubectl cannot read the file: %v", err)}
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		if i >= len(ours) {
			return &ParseError{Msg: "kubectl finds more documents in the file than raygate does"}
		}
		if err := sameDocument(ours[i], raw); err != nil {
			return err
		}
		i++
	}
	if i != len(ours) {
		return &ParseError{Line: ours[i].Line, Msg: "kubectl finds fewer documents in the file than raygate does"}
	}
	return nil
}

func sameDocument(d *Document, raw []byte) error {
	var x any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &x); err != nil {
		return &ParseError{Line: d.Line, Msg: fmt.Sprintf("kubectl cannot read document %d: %v", d.Index, err)}
	}
	theirs, err := FromInterface(x)
	if err != nil {
		return &ParseError{Line: d.Line, Msg: fmt.Sprintf("document %d: %v", d.Index, err)}
	}
	if p, differ := d.Value.Diff(theirs); differ {
		return mismatch(d, p, d.Value)
	}
	if !theirs.IsMap() {
		return nil
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil)
	if err != nil {
		if runtime.IsMissingKind(err) {
			return nil
		}
		if len(d.Objects) == 0 {
			return nil // kubectl refuses the document; raygate checks nothing in it
		}
		return &ParseError{Line: d.Line, Msg: fmt.Sprintf("kubectl cannot decode document %d: %v", d.Index, err)}
	}
	list, ok := obj.(*unstructured.UnstructuredList)
	if !ok {
		return nil // the document itself, compared above
	}
	for _, o := range d.Objects {
		if o.ListDocument {
			continue
		}
		if len(o.Prefix) != 2 || o.Prefix[1].Index >= len(list.Items) {
			return mismatch(d, o.Prefix, d.Value)
		}
		item, err := FromInterface(list.Items[o.Prefix[1].Index].Object)
		if err != nil {
			return &ParseError{Line: d.Line, Msg: err.Error()}
		}
		if p, differ := o.Value.Diff(item); differ {
			return mismatch(d, o.Prefix.Join(p), d.Value)
		}
	}
	return nil
}

func mismatch(d *Document, p Path, v *Value) error {
	line := d.Line
	if pos := (Object{Value: v}).Position(p); pos.Line > 0 {
		line = pos.Line
	}
	return &ParseError{Line: line, Msg: fmt.Sprintf(
		"raygate and kubectl read %s of document %d differently, so raygate refuses the file; simplify the YAML there", describePath(p), d.Index)}
}

func describePath(p Path) string {
	if len(p) == 0 {
		return "the root"
	}
	return p.String()
}
