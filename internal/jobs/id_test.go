package jobs

import (
	"strings"
	"testing"
)

var idCases = []struct {
	id string
	// path is "" when CheckID accepts id, else its message.
	path string
	// submission is "" when CheckSubmissionID accepts id, else its message.
	submission string
}{
	{"raysubmit_Ab3XyZ9kLmNpQrSt", "", ""},
	{"my-job_1", "", ""},
	{"cli-e2e-1", "", ""},
	{"x", "", ""},
	{strings.Repeat("a", MaxIDLength-1) + "z", "", ""},
	{"03000000", "", `submission id "03000000" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
	{"0A0B0C0D", "", `submission id "0A0B0C0D" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
	{"deadbeefcafe", "", `submission id "deadbeefcafe" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
	{"42", "", `submission id "42" is made only of hexadecimal digits, so Ray could read it as a driver job id`},
	{"0300000g", "", ""},
	{"", "job id is empty", "submission id is empty"},
	{strings.Repeat("a", MaxIDLength+1), "job id is longer than 128 characters", "submission id is longer than 128 characters"},
	{"victim#", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"victim?x=1", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"a/stop", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"a b", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"a.b", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"a%23", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"jöb", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
	{"a\x00", "job id may only contain letters, digits, '-' and '_'", "submission id may only contain letters, digits, '-' and '_'"},
}

func TestIDs(t *testing.T) {
	for _, tc := range idCases {
		t.Run(tc.id, func(t *testing.T) {
			if got := msg(CheckID(tc.id)); got != tc.path {
				t.Errorf("CheckID(%q) = %q, want %q", tc.id, got, tc.path)
			}
			if got := msg(CheckSubmissionID(tc.id)); got != tc.submission {
				t.Errorf("CheckSubmissionID(%q) = %q, want %q", tc.id, got, tc.submission)
			}
			if ValidSubmissionID(tc.id) != (tc.submission == "") {
				t.Errorf("ValidSubmissionID(%q) disagrees with CheckSubmissionID", tc.id)
			}
		})
	}
}

func msg(e *Error) string {
	if e == nil {
		return ""
	}
	if e.Status != 400 || e.Code != "bad_request" {
		return "unexpected status " + e.Code
	}
	return e.Msg
}

// FuzzSubmissionID checks that an accepted submission id is one Ray reads
// one way only: no byte a URL gives meaning to, never a possible driver
// job id, within the length bound.
func FuzzSubmissionID(f *testing.F) {
	for _, tc := range idCases {
		f.Add(tc.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		pathOK := CheckID(id) == nil
		subOK := CheckSubmissionID(id) == nil
		if subOK && !pathOK {
			t.Fatalf("%q is a valid submission id but not a valid job id", id)
		}
		if !pathOK {
			return
		}
		if len(id) == 0 || len(id) > MaxIDLength || strings.ContainsAny(id, "#?/%.;&=+ \\\x00") {
			t.Fatalf("accepted %q", id)
		}
		if subOK && CouldNameDriver(id) {
			t.Fatalf("accepted %q, which could name a driver", id)
		}
		if len(id) == 8 && strings.Trim(strings.ToLower(id), "0123456789abcdef") == "" && subOK {
			t.Fatalf("accepted %q, which has the shape of a Ray 2.60 JobID", id)
		}
	})
}
