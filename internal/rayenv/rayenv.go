// Package rayenv hands raygate's credential to Ray's tools: the value of
// RAY_JOB_HEADERS (the extra HTTP headers Ray's job CLI sends, a JSON
// object) with "Authorization: Bearer <token>", merged into one the
// environment already has, and the line that sets it in a shell. All
// functions are pure.
package rayenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Var is the environment variable Ray's job CLI reads extra headers from.
const Var = "RAY_JOB_HEADERS"

// Headers returns the RAY_JOB_HEADERS value that sends token as
// "Authorization: Bearer", keeping every other header of existing (the
// variable's current value, "" if unset). A header named Authorization
// in any spelling is replaced.
func Headers(existing, token string) (string, error) {
	if token == "" || strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return "", errors.New("rayenv: not a token")
	}
	headers := map[string]json.RawMessage{}
	if strings.TrimSpace(existing) != "" {
		dec := json.NewDecoder(strings.NewReader(existing))
		if err := dec.Decode(&headers); err != nil || headers == nil || dec.More() {
			return "", fmt.Errorf("%s is set but is not a JSON object of headers; unset it or fix it", Var)
		}
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		if !strings.EqualFold(k, "Authorization") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString(`{"Authorization": `)
	auth, _ := json.Marshal("Bearer " + token)
	b.Write(auth)
	for _, k := range names {
		name, _ := json.Marshal(k)
		b.WriteString(", ")
		b.Write(name)
		b.WriteString(": ")
		if err := json.Compact(&b, headers[k]); err != nil {
			return "", fmt.Errorf("%s: header %s: %w", Var, k, err)
		}
	}
	b.WriteString("}")
	return b.String(), nil
}

// Environ returns environ (KEY=VALUE pairs) with RAY_JOB_HEADERS set to
// carry token, merged with the value environ has.
func Environ(environ []string, token string) ([]string, error) {
	out := make([]string, 0, len(environ)+1)
	existing := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, Var+"="); ok {
			existing = v
			continue
		}
		out = append(out, kv)
	}
	v, err := Headers(existing, token)
	if err != nil {
		return nil, err
	}
	return append(out, Var+"="+v), nil
}

// Shells are the shells Export writes for.
var Shells = []string{"sh", "fish", "powershell"}

// Export returns the line that sets the environment variable name to
// value in shell: "sh" (also bash and zsh: export NAME='...'), "fish"
// (set -gx NAME '...') or "powershell" ($env:NAME = '...'), quoted so
// that the shell takes value literally.
func Export(shell, name, value string) (string, error) {
	if strings.ContainsRune(value, 0) {
		return "", errors.New("rayenv: a value with a NUL byte cannot be exported")
	}
	switch shell {
	case "sh", "bash", "zsh":
		return "export " + name + "=" + quoteSh(value), nil
	case "fish":
		return "set -gx " + name + " " + quoteFish(value), nil
	case "powershell", "pwsh":
		return "$env:" + name + " = " + quotePowerShell(value), nil
	}
	return "", fmt.Errorf("unknown shell %q (one of %s)", shell, strings.Join(Shells, ", "))
}

// quoteSh single-quotes s for a POSIX shell: inside single quotes nothing
// is special; a single quote ends the quoting, is escaped with a
// backslash, and the quoting starts again.
func quoteSh(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteFish single-quotes s for fish, where \ and ' are escaped with \
// inside single quotes.
func quoteFish(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// quotePowerShell single-quotes s for PowerShell, where a single quote
// (in any of its Unicode forms) is doubled.
func quotePowerShell(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
