package manifest

import (
	"bytes"
	"testing"
)

// FuzzRoundTrip checks that what Encode writes means what was read:
// reading, encoding and reading again, twice, gives documents with the
// same JSON. (Bytes may settle on the second round: comments of an
// otherwise empty document move to the one before it.)
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a} # keep\nspec:\n  headGroupSpec:\n    template:\n      spec:\n        containers:\n        - name: h\n          image: rayproject/ray:2.60.0\n"))
	f.Add([]byte("a: &x {b: [1, 2.50, \"3\", true, null, 0x10, 1e3]}\nc: *x\n---\n# c\n---\nd: |\n  multi\n  line\n"))
	f.Add([]byte("{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"kind\": \"RayJob\", \"spec\": {\"entrypoint\": \"python -c 'print(1)'\"}}]}\n"))
	f.Add([]byte("k: 'it''s'\nl: \"\\u00e9\\t\"\nm: ~\nn: 2026-11-26\no: 012\np: .inf\n"))
	f.Add([]byte("a: {b: , c: 1}\nd: [e: ]\nf: &n\ng: *n\n? h\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		checkRoundTrip(t, data)
	})
}

// checkRoundTrip reads data, encodes it and reads it again, twice, and
// fails when a document's JSON changes on the way.
func checkRoundTrip(t testing.TB, data []byte) {
	t.Helper()
	f, err := Read(data)
	if err != nil {
		return
	}
	style := DetectStyle(data)
	want := jsonDocs(t, f)
	out := data
	for round := 1; round <= 2; round++ {
		enc, err := f.Encode(style)
		if err != nil {
			t.Fatalf("round %d: encoding failed: %v\n%s", round, err, out)
		}
		f, err = Read(enc)
		if err != nil {
			t.Fatalf("round %d: encoded output does not read: %v\n%s\n->\n%s", round, err, out, enc)
		}
		if got := jsonDocs(t, f); got != want {
			t.Fatalf("round %d: documents changed meaning:\n in %s\nout %s\nyaml:\n%s\n->\n%s", round, want, got, out, enc)
		}
		out = enc
	}
}

// jsonDocs is the JSON of every document that is not empty or null,
// joined. (Encode writes an empty document as its comments only.)
func jsonDocs(t testing.TB, f *File) string {
	t.Helper()
	var b bytes.Buffer
	for _, d := range f.Docs {
		if d.Value == nil || d.Value.IsNull() {
			continue
		}
		j, err := d.Value.MarshalJSON()
		if err != nil {
			t.Fatalf("document %d has no JSON form: %v", d.Index, err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
