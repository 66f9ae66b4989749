package manifest

import (
	"bytes"
	"testing"
)

// FuzzRoundTrip checks that what Encode writes means what was parsed:
// decoding, encoding and decoding again, twice, gives documents with the
// same JSON. (Bytes may settle on the second round: comments of an
// otherwise empty document move to the one before it.)
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a} # keep\nspec:\n  headGroupSpec:\n    template:\n      spec:\n        containers:\n        - name: h\n          image: rayproject/ray:2.60.0\n"))
	f.Add([]byte("a: &x {b: [1, 2.50, \"3\", true, null, 0x10, 1e3]}\nc: *x\n---\n# c\n---\nd: |\n  multi\n  line\n"))
	f.Add([]byte("{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"kind\": \"RayJob\", \"spec\": {\"entrypoint\": \"python -c 'print(1)'\"}}]}\n"))
	f.Add([]byte("k: 'it''s'\nl: \"\\u00e9\\t\"\nm: ~\nn: 2026-11-26\no: 012\np: .inf\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse(data)
		if err != nil {
			return
		}
		style := DetectStyle(data)
		out, err := Encode(docs, style)
		if err != nil {
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("encoded output does not parse: %v\n%s", err, out)
		}
		if a, b := jsonDocs(t, docs), jsonDocs(t, again); a != b {
			t.Fatalf("documents changed meaning:\n in %s\nout %s\nyaml:\n%s", a, b, out)
		}
		out2, err := Encode(again, style)
		if err != nil {
			t.Fatalf("re-encoding failed: %v", err)
		}
		third, err := Parse(out2)
		if err != nil {
			t.Fatalf("re-encoded output does not parse: %v\n%s", err, out2)
		}
		if a, b := jsonDocs(t, docs), jsonDocs(t, third); a != b {
			t.Fatalf("documents changed meaning on the second round:\n in %s\nout %s\nyaml:\n%s", a, b, out2)
		}
	})
}

// jsonDocs is the JSON of every document that is not empty or null,
// joined. (Encode writes an empty document as its comments only.)
func jsonDocs(t *testing.T, docs []Document) string {
	var b bytes.Buffer
	for _, d := range docs {
		r := d.Root()
		if r == nil {
			continue
		}
		j, err := ToJSON(r)
		if err != nil {
			j = []byte("<not JSON>") // the message names a line, which may move
		}
		if string(j) == "null" {
			continue
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
