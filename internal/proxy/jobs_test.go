package proxy

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestStampOwner(t *testing.T) {
	for _, tc := range []struct {
		name       string
		body       string
		err        string
		entrypoint string
		subID      string
		meta       map[string]string
	}{
		{name: "plain", body: `{"entrypoint":"python x.py"}`, entrypoint: "python x.py", meta: map[string]string{"raygate.owner": "alice"}},
		{name: "keeps metadata", body: `{"entrypoint":"e","metadata":{"team":"a"}}`, entrypoint: "e", meta: map[string]string{"team": "a", "raygate.owner": "alice"}},
		{name: "overwrites spoofed owner", body: `{"entrypoint":"e","metadata":{"raygate.owner":"mallory"}}`, entrypoint: "e", meta: map[string]string{"raygate.owner": "alice"}},
		{name: "duplicate metadata keys: last wins, as in Ray", body: `{"metadata":{"x":"1"},"metadata":{"raygate.owner":"mallory"}}`, meta: map[string]string{"raygate.owner": "alice"}},
		{name: "escaped key", body: `{"metadata":{"raygate\u002eowner":"mallory"}}`, meta: map[string]string{"raygate.owner": "alice"}},
		{name: "null metadata", body: `{"entrypoint":"e","metadata":null}`, entrypoint: "e", meta: map[string]string{"raygate.owner": "alice"}},
		{name: "submission id", body: `{"entrypoint":"e","submission_id":"my-job"}`, entrypoint: "e", subID: "my-job", meta: map[string]string{"raygate.owner": "alice"}},
		{name: "null submission id", body: `{"entrypoint":"e","submission_id":null}`, entrypoint: "e", meta: map[string]string{"raygate.owner": "alice"}},
		{name: "not json", body: `entrypoint=e`, err: "body is not a JSON object"},
		{name: "array", body: `[1]`, err: "body is not a JSON object"},
		{name: "null", body: `null`, err: "body is not a JSON object"},
		{name: "trailing data", body: `{"entrypoint":"e"} {"x":1}`, err: "body has data after the JSON object"},
		{name: "metadata not object", body: `{"metadata":"x"}`, err: "metadata is not an object of strings"},
		{name: "metadata values not strings", body: `{"metadata":{"a":1}}`, err: "metadata is not an object of strings"},
		{name: "entrypoint not string", body: `{"entrypoint":["rm"]}`, err: "entrypoint is not a string"},
		{name: "empty", body: ``, err: "body is not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, sub, err := StampOwner([]byte(tc.body), "raygate.owner", "alice")
			if tc.err != "" {
				var se *SubmitError
				if !errors.As(err, &se) || se.Msg != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sub.Entrypoint != tc.entrypoint || sub.SubmissionID != tc.subID {
				t.Fatalf("submission = %+v", sub)
			}
			var got struct {
				Metadata map[string]string `json:"metadata"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Metadata) != len(tc.meta) {
				t.Fatalf("metadata = %v, want %v", got.Metadata, tc.meta)
			}
			for k, v := range tc.meta {
				if got.Metadata[k] != v {
					t.Fatalf("metadata = %v, want %v", got.Metadata, tc.meta)
				}
			}
		})
	}
}

func TestStampOwnerKeepsFields(t *testing.T) {
	in := `{"entrypoint":"python -c 1","runtime_env":{"pip":["x"],"env_vars":{"A":"b"}},"entrypoint_num_cpus":1.5,"entrypoint_resources":{"r":2}}`
	out, _, err := StampOwner([]byte(in), "raygate.owner", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal(out, &b)
	delete(b, "metadata")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("fields changed:\n in %s\nout %s", ja, jb)
	}
}

// FuzzStampOwner checks that any accepted body comes out as a JSON object
// whose metadata names exactly the caller as owner, as Ray would parse it.
func FuzzStampOwner(f *testing.F) {
	for _, s := range []string{`{"entrypoint":"e"}`, `{"metadata":{"raygate.owner":"m"}}`, `{"metadata":{"a":"b"},"metadata":{}}`, `[]`, `{"metadata":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, _, err := StampOwner([]byte(body), "raygate.owner", "alice")
		if err != nil {
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output %q is not an object: %v", out, err)
		}
		var meta map[string]string
		if err := json.Unmarshal(got["metadata"], &meta); err != nil || meta["raygate.owner"] != "alice" {
			t.Fatalf("output %q does not name alice as owner", out)
		}
	})
}
