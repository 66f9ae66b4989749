package jobs

import "strconv"

// MaxIDLength bounds a job or submission id raygate passes to Ray.
const MaxIDLength = 128

// How Ray 2.60 reads the id in /api/jobs/{id}, /api/jobs/{id}/stop and
// the rest (dashboard/modules/job/utils.py, find_job_by_ids): first as a
// driver job id (a JobID, 4 bytes, written as 8 lowercase hex digits such
// as "03000000"; drivers are numbered in order, so the next one is easy to
// guess), then as the submission id of the job whose driver has that id,
// and only then as a submission id. The head then pastes the job's
// submission id unescaped into its agent's URL
// (/api/job_agent/jobs/{submission_id}/stop), where the agent resolves it
// the same way again. So an id is unambiguous to Ray only when no URL
// syntax can hide in it and no driver can ever be named by it.

// CheckID checks a job id named in a request path: 1 to MaxIDLength
// letters, digits, '-' or '_'. A driver job id passes.
func CheckID(id string) *Error { return checkChars("job id", id) }

func checkChars(what, id string) *Error {
	if id == "" {
		return badRequest(what + " is empty")
	}
	if len(id) > MaxIDLength {
		return badRequest(what + " is longer than " + strconv.Itoa(MaxIDLength) + " characters")
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return badRequest(what + " may only contain letters, digits, '-' and '_'")
		}
	}
	return nil
}

// CheckSubmissionID checks a submission id chosen by a client: CheckID,
// and it must not be able to name a driver job (see CouldNameDriver).
func CheckSubmissionID(id string) *Error {
	if err := checkChars("submission id", id); err != nil {
		return err
	}
	if CouldNameDriver(id) {
		return badRequest("submission id " + strconv.Quote(id) + " is made only of hexadecimal digits, so Ray could read it as a driver job id")
	}
	return nil
}

// CouldNameDriver reports whether Ray could read id as a driver job id.
// Ray 2.60 writes driver ids as 8 lowercase hex digits; raygate counts
// every id made only of hex digits, in either case and of any length, so
// that a longer JobID in a later Ray is covered too.
func CouldNameDriver(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ValidSubmissionID reports whether a submission id reported by a cluster
// can be acted on unambiguously: CheckSubmissionID accepts it.
func ValidSubmissionID(id string) bool { return CheckSubmissionID(id) == nil }

func idChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
