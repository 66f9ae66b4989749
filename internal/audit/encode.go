package audit

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEvent appends e as one JSON object (no newline). It writes the same
// fields as encoding/json would, in the same order, without reflection or
// allocations; invalid UTF-8 becomes U+FFFD, as with encoding/json.
func appendEvent(b []byte, e *Event) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","request_id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"stage":`...)
	b = appendString(b, e.Stage)
	b = append(b, `,"user":`...)
	b = appendString(b, e.User)
	b = append(b, `,"groups":[`...)
	for i, g := range e.Groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, g)
	}
	b = append(b, `],"auth_method":`...)
	b = appendString(b, e.AuthMethod)
	if e.AuthSource != "" {
		b = append(b, `,"auth_source":`...)
		b = appendString(b, e.AuthSource)
	}
	b = append(b, `,"cluster":`...)
	b = appendString(b, e.Cluster)
	if e.Role != "" {
		b = append(b, `,"role":`...)
		b = appendString(b, e.Role)
	}
	if e.RoleSource != "" {
		b = append(b, `,"role_source":`...)
		b = appendString(b, e.RoleSource)
	}
	b = append(b, `,"action":`...)
	b = appendString(b, e.Action)
	b = append(b, `,"method":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"decision":`...)
	b = appendString(b, e.Decision)
	b = append(b, `,"reason":`...)
	b = appendString(b, e.Reason)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, e.DurationMS, 'f', -1, 64)
	b = append(b, `,"remote_addr":`...)
	b = appendString(b, e.RemoteAddr)
	if e.JobID != "" {
		b = append(b, `,"job_id":`...)
		b = appendString(b, e.JobID)
	}
	if e.Entrypoint != "" {
		b = append(b, `,"entrypoint":`...)
		b = appendString(b, e.Entrypoint)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// plainJSON is 1 for the ASCII bytes a JSON string holds as they are.
var plainJSON = func() (t [256]uint8) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		if c != '"' && c != '\\' {
			t[c] = 1
		}
	}
	return t
}()

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Most of what an audit line holds needs no escaping: it is skipped
	// eight bytes at a time, without a branch per byte, and copied whole.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if plainJSON[s[i]]&plainJSON[s[i+1]]&plainJSON[s[i+2]]&plainJSON[s[i+3]]&
			plainJSON[s[i+4]]&plainJSON[s[i+5]]&plainJSON[s[i+6]]&plainJSON[s[i+7]] == 0 {
			break
		}
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainJSON[c] != 0 {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
