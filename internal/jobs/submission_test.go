package jobs

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var submissionCases = []struct {
	name string
	body string
	// err is the refusal's message, "" when the body is accepted.
	err string
	// want is what is read from an accepted body.
	want Submission
	// stamped is the body Ray is sent, owner "alice".
	stamped string
}{
	{name: "plain", body: `{"entrypoint":"python x.py"}`,
		want:    Submission{Entrypoint: "python x.py"},
		stamped: `{"entrypoint":"python x.py","metadata":{"raygate.owner":"alice"}}`},
	{name: "keeps metadata and order", body: `{"metadata":{"team":"a"},"entrypoint":"e"}`,
		want:    Submission{Entrypoint: "e", Metadata: map[string]string{"team": "a"}},
		stamped: `{"metadata":{"team":"a","raygate.owner":"alice"},"entrypoint":"e"}`},
	{name: "overwrites a spoofed owner", body: `{"entrypoint":"e","metadata":{"raygate.owner":"mallory","b":"c"}}`,
		want:    Submission{Entrypoint: "e", Metadata: map[string]string{"raygate.owner": "mallory", "b": "c"}},
		stamped: `{"entrypoint":"e","metadata":{"b":"c","raygate.owner":"alice"}}`},
	{name: "escaped owner key", body: `{"entrypoint":"e","metadata":{"raygate\u002eowner":"mallory"}}`,
		want:    Submission{Entrypoint: "e", Metadata: map[string]string{"raygate.owner": "mallory"}},
		stamped: `{"entrypoint":"e","metadata":{"raygate.owner":"alice"}}`},
	{name: "nulls are absent", body: `{"entrypoint":"e","metadata":null,"submission_id":null,"whatever":null}`,
		want:    Submission{Entrypoint: "e"},
		stamped: `{"entrypoint":"e","metadata":{"raygate.owner":"alice"}}`},
	{name: "submission id", body: `{"entrypoint":"e","submission_id":"my-job"}`,
		want:    Submission{Entrypoint: "e", SubmissionID: "my-job"},
		stamped: `{"entrypoint":"e","submission_id":"my-job","metadata":{"raygate.owner":"alice"}}`},
	{name: "deprecated job id", body: `{"entrypoint":"e","job_id":"old-style"}`,
		want:    Submission{Entrypoint: "e", SubmissionID: "old-style"},
		stamped: `{"entrypoint":"e","job_id":"old-style","metadata":{"raygate.owner":"alice"}}`},
	{name: "submission id wins over job id", body: `{"entrypoint":"e","job_id":"old","submission_id":"new"}`,
		want:    Submission{Entrypoint: "e", SubmissionID: "new"},
		stamped: `{"entrypoint":"e","job_id":"old","submission_id":"new","metadata":{"raygate.owner":"alice"}}`},
	{name: "resources and runtime env", body: `{"entrypoint":"e","entrypoint_num_cpus":1.5,"entrypoint_num_gpus":2,"entrypoint_memory":1073741824,"entrypoint_resources":{"TPU":4},"entrypoint_label_selector":{"zone":"a"},"runtime_env":{"working_dir":"gcs://_ray_pkg_1.zip","env_vars":{"A":"1"},"pip":["x==1e3"]}}`,
		want: Submission{Entrypoint: "e", EntrypointNumCPUs: 1.5, EntrypointNumGPUs: 2, EntrypointMemory: 1 << 30,
			EntrypointResources: map[string]float64{"TPU": 4}, EntrypointLabelSelector: map[string]string{"zone": "a"}},
		stamped: `{"entrypoint":"e","entrypoint_num_cpus":1.5,"entrypoint_num_gpus":2,"entrypoint_memory":1073741824,"entrypoint_resources":{"TPU":4},"entrypoint_label_selector":{"zone":"a"},"runtime_env":{"working_dir":"gcs://_ray_pkg_1.zip","env_vars":{"A":"1"},"pip":["x==1e3"]},"metadata":{"raygate.owner":"alice"}}`},
	{name: "quotes and escapes are re-encoded", body: `{"entrypoint":"echo \"a\\\",\\\"b\" \u00e9 \ud800 <x>"}`,
		want:    Submission{Entrypoint: "echo \"a\\\",\\\"b\" é \ufffd <x>"},
		stamped: `{"entrypoint":"echo \"a\\\",\\\"b\" é ` + "\ufffd" + ` \u003cx\u003e","metadata":{"raygate.owner":"alice"}}`},
	{name: "utf-7 looking text stays text", body: `{"entrypoint":"echo +ACI-"}`,
		want:    Submission{Entrypoint: "echo +ACI-"},
		stamped: `{"entrypoint":"echo +ACI-","metadata":{"raygate.owner":"alice"}}`},

	{name: "not json", body: `entrypoint=e`, err: "invalid job submission: body is not valid JSON"},
	{name: "empty", body: ``, err: "invalid job submission: body is not valid JSON"},
	{name: "array", body: `[1]`, err: "invalid job submission: body is not a JSON object"},
	{name: "null", body: `null`, err: "invalid job submission: body is not a JSON object"},
	{name: "trailing data", body: `{"entrypoint":"e"} {"x":1}`, err: "invalid job submission: body has data after the JSON value"},
	{name: "duplicate member", body: `{"entrypoint":"e","entrypoint":"f"}`, err: `invalid job submission: key "entrypoint" appears twice in one object`},
	{name: "duplicate metadata key", body: `{"entrypoint":"e","metadata":{"raygate.owner":"a","raygate\u002eowner":"b"}}`, err: `invalid job submission: key "raygate.owner" appears twice in one object`},
	{name: "duplicate deep key", body: `{"entrypoint":"e","runtime_env":{"env_vars":{"A":"1","A":"2"}}}`, err: `invalid job submission: key "A" appears twice in one object`},
	{name: "invalid utf-8", body: "{\"entrypoint\":\"\xc0\xae\"}", err: "invalid job submission: body is not valid UTF-8"},
	{name: "BOM", body: "\ufeff{\"entrypoint\":\"e\"}", err: "invalid job submission: body is not valid JSON"},
	{name: "NaN", body: `{"entrypoint":"e","entrypoint_num_cpus":NaN}`, err: "invalid job submission: body is not valid JSON"},
	{name: "too deep", body: `{"entrypoint":"e","runtime_env":{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}}`, err: "invalid job submission: body nests deeper than 64 levels"},
	{name: "unknown field", body: `{"entrypoint":"e","owner":"x"}`, err: `invalid job submission: unknown field "owner" (known: entrypoint, submission_id, job_id, runtime_env, metadata, entrypoint_num_cpus, entrypoint_num_gpus, entrypoint_memory, entrypoint_resources, entrypoint_label_selector)`},
	{name: "no entrypoint", body: `{"metadata":{}}`, err: "invalid job submission: entrypoint is required"},
	{name: "entrypoint not string", body: `{"entrypoint":["rm"]}`, err: "invalid job submission: entrypoint is not a string"},
	{name: "metadata not object", body: `{"entrypoint":"e","metadata":"x"}`, err: "invalid job submission: metadata is not an object of strings"},
	{name: "metadata values not strings", body: `{"entrypoint":"e","metadata":{"a":1}}`, err: "invalid job submission: metadata is not an object of strings"},
	{name: "submission id not string", body: `{"entrypoint":"e","submission_id":1}`, err: "invalid job submission: submission_id is not a string"},
	{name: "submission id with #", body: `{"entrypoint":"e","submission_id":"victim#"}`, err: "invalid job submission: submission_id: submission id may only contain letters, digits, '-' and '_'"},
	{name: "job id with ?", body: `{"entrypoint":"e","job_id":"victim?x"}`, err: "invalid job submission: job_id: submission id may only contain letters, digits, '-' and '_'"},
	{name: "bad job id beside a good submission id", body: `{"entrypoint":"e","submission_id":"ok","job_id":"04000000"}`, err: `invalid job submission: job_id: submission id "04000000" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
	{name: "empty submission id", body: `{"entrypoint":"e","submission_id":""}`, err: "invalid job submission: submission_id: submission id is empty"},
	{name: "driver id", body: `{"entrypoint":"e","submission_id":"03000000"}`, err: `invalid job submission: submission_id: submission id "03000000" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
	{name: "gpus as bool", body: `{"entrypoint":"e","entrypoint_num_gpus":true}`, err: "invalid job submission: entrypoint_num_gpus is not a finite number"},
	{name: "cpus overflow", body: `{"entrypoint":"e","entrypoint_num_cpus":1e400}`, err: "invalid job submission: entrypoint_num_cpus is not a finite number"},
	{name: "memory not integer", body: `{"entrypoint":"e","entrypoint_memory":1e9}`, err: "invalid job submission: entrypoint_memory is not an integer"},
	{name: "resources not numbers", body: `{"entrypoint":"e","entrypoint_resources":{"a":"1"}}`, err: "invalid job submission: entrypoint_resources is not an object of numbers"},
	{name: "runtime env not object", body: `{"entrypoint":"e","runtime_env":"x"}`, err: "invalid job submission: runtime_env is not an object"},
	{name: "label selector not strings", body: `{"entrypoint":"e","entrypoint_label_selector":{"a":1}}`, err: "invalid job submission: entrypoint_label_selector is not an object of strings"},
}

func TestParseSubmission(t *testing.T) {
	for _, tc := range submissionCases {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := ParseSubmission([]byte(tc.body))
			if tc.err != "" {
				if got := msg(err); got != tc.err {
					t.Fatalf("err = %q, want %q", got, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := *sub
			got.RuntimeEnv, got.doc = Value{}, Value{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("read %+v\nwant %+v", got, tc.want)
			}
			if out := string(sub.Stamped("alice")); out != tc.stamped {
				t.Fatalf("stamped\n %s\nwant\n %s", out, tc.stamped)
			}
			if again := string(sub.Stamped("alice")); again != tc.stamped {
				t.Fatal("Stamped changed the submission")
			}
		})
	}
}

func TestRuntimeEnvIsReadable(t *testing.T) {
	sub, err := ParseSubmission([]byte(`{"entrypoint":"e","runtime_env":{"image_uri":"docker.io/x:1","py_modules":["a","b"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	img, ok := sub.RuntimeEnv.Get("image_uri")
	mods, _ := sub.RuntimeEnv.Get("py_modules")
	if !ok || img.Kind != String || img.Str != "docker.io/x:1" || len(mods.Items) != 2 {
		t.Fatalf("runtime_env %+v", sub.RuntimeEnv)
	}
}

// FuzzParseSubmission checks that an accepted body is read the same way
// from what raygate sends Ray: the stamped body parses again to the same
// submission, with exactly one owner, the caller, and no other change.
func FuzzParseSubmission(f *testing.F) {
	for _, tc := range submissionCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sub, err := ParseSubmission([]byte(body))
		if err != nil {
			if err.Status != 400 {
				t.Fatalf("refusal with status %d", err.Status)
			}
			return
		}
		out := sub.Stamped("alice")
		again, err := ParseSubmission(out)
		if err != nil {
			t.Fatalf("stamped body %q is refused: %v", out, err)
		}
		if again.Metadata[OwnerKey] != "alice" {
			t.Fatalf("stamped body %q does not name alice as owner", out)
		}
		if string(again.Stamped("alice")) != string(out) {
			t.Fatalf("stamping twice changes %q", out)
		}
		if again.Entrypoint != sub.Entrypoint || again.SubmissionID != sub.SubmissionID ||
			!reflect.DeepEqual(again.RuntimeEnv, sub.RuntimeEnv) {
			t.Fatalf("stamped body %q reads differently from %q", out, body)
		}
		delete(again.Metadata, OwnerKey)
		want := map[string]string{}
		for k, v := range sub.Metadata {
			if k != OwnerKey {
				want[k] = v
			}
		}
		if len(again.Metadata) != len(want) || (len(want) > 0 && !reflect.DeepEqual(again.Metadata, want)) {
			t.Fatalf("metadata changed: %v, want %v", again.Metadata, want)
		}
		// encoding/json, a reader raygate did not write, agrees.
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil || m["entrypoint"] != sub.Entrypoint {
			t.Fatalf("encoding/json reads %q as %v (%v)", out, m, err)
		}
	})
}
