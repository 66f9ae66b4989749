package jobs

import (
	"math"
	"strconv"
	"strings"
)

// Submission is a job submission (POST /api/jobs/, Ray's JobSubmitRequest)
// read once. Every check reads this value; the body Ray receives is
// encoded from it (Stamped), so Ray reads what the checks read.
type Submission struct {
	// Entrypoint is the job's shell command.
	Entrypoint string
	// SubmissionID is the id the job will have: submission_id, or the
	// deprecated job_id when submission_id is absent (Ray's own rule); ""
	// when Ray will choose one.
	SubmissionID string
	// RuntimeEnv is the runtime_env object as sent (Kind Null when
	// absent): working_dir, py_modules, pip, image_uri and the rest, for
	// checks that look at where code and images come from.
	RuntimeEnv Value
	// Metadata is the job's metadata as sent, before raygate stamps
	// OwnerKey.
	Metadata map[string]string
	// EntrypointNumCPUs, EntrypointNumGPUs and EntrypointMemory reserve
	// resources for the entrypoint (0 when absent).
	EntrypointNumCPUs float64
	EntrypointNumGPUs float64
	EntrypointMemory  int64
	// EntrypointResources are custom resources reserved for the
	// entrypoint.
	EntrypointResources map[string]float64
	// EntrypointLabelSelector constrains the nodes the entrypoint runs on.
	EntrypointLabelSelector map[string]string

	doc Value // the body, members with a null value dropped
}

// submitFields are the members of Ray 2.60's JobSubmitRequest
// (dashboard/modules/job/common.py). Ray refuses any other member, and so
// does raygate.
var submitFields = []string{
	"entrypoint", "submission_id", "job_id", "runtime_env", "metadata",
	"entrypoint_num_cpus", "entrypoint_num_gpus", "entrypoint_memory",
	"entrypoint_resources", "entrypoint_label_selector",
}

// ParseSubmission reads a job submission body. Members whose value is
// null count as absent, as in Ray. Every member must have the type Ray
// requires, and ids must pass CheckSubmissionID. Errors are *Error (400).
func ParseSubmission(body []byte) (*Submission, *Error) {
	doc, err := ParseJSON(body)
	if err != nil {
		return nil, badRequest("invalid job submission: " + err.Error())
	}
	if doc.Kind != Object {
		return nil, badRequest("invalid job submission: body is not a JSON object")
	}
	s := &Submission{doc: Value{Kind: Object}}
	for _, f := range doc.Fields {
		if f.Value.Kind == Null {
			continue
		}
		if !known(f.Key) {
			return nil, badRequest("invalid job submission: unknown field " + strconv.Quote(f.Key) + " (known: " + strings.Join(submitFields, ", ") + ")")
		}
		s.doc.Fields = append(s.doc.Fields, f)
	}
	if msg := s.read(); msg != "" {
		return nil, badRequest("invalid job submission: " + msg)
	}
	sub, hasSub := s.doc.Get("submission_id")
	job, hasJob := s.doc.Get("job_id")
	for _, id := range []struct {
		v   Value
		has bool
		key string
	}{{sub, hasSub, "submission_id"}, {job, hasJob, "job_id"}} {
		if id.has {
			if err := CheckSubmissionID(id.v.Str); err != nil {
				err.Msg = "invalid job submission: " + id.key + ": " + err.Msg
				return nil, err
			}
		}
	}
	switch {
	case hasSub:
		s.SubmissionID = sub.Str
	case hasJob:
		s.SubmissionID = job.Str
	}
	return s, nil
}

func known(key string) bool {
	for _, k := range submitFields {
		if k == key {
			return true
		}
	}
	return false
}

// read fills the typed fields from s.doc and says what is wrong, if
// anything.
func (s *Submission) read() string {
	ep, ok := s.doc.Get("entrypoint")
	if !ok {
		return "entrypoint is required"
	}
	if ep.Kind != String {
		return "entrypoint is not a string"
	}
	s.Entrypoint = ep.Str
	for _, key := range []string{"submission_id", "job_id"} {
		if v, ok := s.doc.Get(key); ok && v.Kind != String {
			return key + " is not a string"
		}
	}
	if v, ok := s.doc.Get("runtime_env"); ok {
		if v.Kind != Object {
			return "runtime_env is not an object"
		}
		s.RuntimeEnv = v
	}
	var msg string
	if s.Metadata, msg = stringMap(s.doc, "metadata"); msg != "" {
		return msg
	}
	if s.EntrypointLabelSelector, msg = stringMap(s.doc, "entrypoint_label_selector"); msg != "" {
		return msg
	}
	for _, n := range []struct {
		key string
		to  *float64
	}{{"entrypoint_num_cpus", &s.EntrypointNumCPUs}, {"entrypoint_num_gpus", &s.EntrypointNumGPUs}} {
		if v, ok := s.doc.Get(n.key); ok {
			f, ok := number(v)
			if !ok {
				return n.key + " is not a finite number"
			}
			*n.to = f
		}
	}
	if v, ok := s.doc.Get("entrypoint_memory"); ok {
		m, err := strconv.ParseInt(v.Num, 10, 64)
		if v.Kind != Number || err != nil {
			return "entrypoint_memory is not an integer"
		}
		s.EntrypointMemory = m
	}
	if v, ok := s.doc.Get("entrypoint_resources"); ok {
		if v.Kind != Object {
			return "entrypoint_resources is not an object of numbers"
		}
		s.EntrypointResources = make(map[string]float64, len(v.Fields))
		for _, f := range v.Fields {
			n, ok := number(f.Value)
			if !ok {
				return "entrypoint_resources is not an object of numbers"
			}
			s.EntrypointResources[f.Key] = n
		}
	}
	return ""
}

// number reads a finite JSON number. Booleans are not numbers here,
// although Python would count true as 1.
func number(v Value) (float64, bool) {
	if v.Kind != Number {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Num, 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

func stringMap(doc Value, key string) (map[string]string, string) {
	v, ok := doc.Get(key)
	if !ok {
		return nil, ""
	}
	if v.Kind != Object {
		return nil, key + " is not an object of strings"
	}
	m := make(map[string]string, len(v.Fields))
	for _, f := range v.Fields {
		if f.Value.Kind != String {
			return nil, key + " is not an object of strings"
		}
		m[f.Key] = f.Value.Str
	}
	return m, ""
}

// Stamped returns the body to send Ray: the submission as read, with
// metadata[OwnerKey] set to owner (overwriting whatever the client sent
// there) and every other member kept in order. s is not changed.
func (s *Submission) Stamped(owner string) []byte {
	out := Value{Kind: Object, Fields: make([]Field, 0, len(s.doc.Fields)+1)}
	stamped := false
	for _, f := range s.doc.Fields {
		if f.Key == "metadata" {
			f.Value = withOwner(f.Value, owner)
			stamped = true
		}
		out.Fields = append(out.Fields, f)
	}
	if !stamped {
		out.Fields = append(out.Fields, Field{Key: "metadata", Value: withOwner(Value{Kind: Object}, owner)})
	}
	return out.AppendJSON(make([]byte, 0, 256))
}

func withOwner(meta Value, owner string) Value {
	fields := make([]Field, 0, len(meta.Fields)+1)
	for _, f := range meta.Fields {
		if f.Key != OwnerKey {
			fields = append(fields, f)
		}
	}
	fields = append(fields, Field{Key: OwnerKey, Value: Value{Kind: String, Str: owner}})
	return Value{Kind: Object, Fields: fields}
}
