package rayenv

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

var headerCases = []struct {
	name, existing, want, err string
}{
	{"unset", "", `{"Authorization": "Bearer T"}`, ""},
	{"other headers kept", `{"X-Team": "a", "Cookie": "c=1"}`, `{"Authorization": "Bearer T", "Cookie": "c=1", "X-Team": "a"}`, ""},
	{"an old token replaced, any spelling", `{"authorization": "Bearer old", "AUTHORIZATION": "x", "X-A": 1}`, `{"Authorization": "Bearer T", "X-A": 1}`, ""},
	{"spaces around", "  {\"X\": {\"nested\": [1, 2]}}\n", `{"Authorization": "Bearer T", "X": {"nested":[1,2]}}`, ""},
	{"not JSON", `Authorization: Bearer x`, "", "RAY_JOB_HEADERS is set but is not a JSON object of headers; unset it or fix it"},
	{"a list", `["a"]`, "", "RAY_JOB_HEADERS is set but is not a JSON object of headers; unset it or fix it"},
	{"null", `null`, "", "RAY_JOB_HEADERS is set but is not a JSON object of headers; unset it or fix it"},
	{"two objects", `{}{}`, "", "RAY_JOB_HEADERS is set but is not a JSON object of headers; unset it or fix it"},
}

func TestHeaders(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Headers(tc.existing, "T")
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Headers = %s, %v\nwant %s", got, err, tc.want)
			}
		})
	}
	if _, err := Headers("", "a\nb"); err == nil {
		t.Fatal("a token with a newline")
	}
}

func FuzzHeaders(f *testing.F) {
	for _, tc := range headerCases {
		f.Add(tc.existing, "eyJ.a.b")
	}
	f.Fuzz(func(t *testing.T, existing, token string) {
		got, err := Headers(existing, token)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("%q is not JSON: %v", got, err)
		}
		if m["Authorization"] != "Bearer "+token {
			t.Fatalf("Authorization %v", m["Authorization"])
		}
		var old map[string]any
		_ = json.Unmarshal([]byte(existing), &old)
		for k, v := range old {
			if strings.EqualFold(k, "Authorization") {
				continue
			}
			a, _ := json.Marshal(v)
			b, _ := json.Marshal(m[k])
			if string(a) != string(b) {
				t.Fatalf("header %q changed from %s to %s", k, a, b)
			}
		}
	})
}

func TestEnviron(t *testing.T) {
	got, err := Environ([]string{"HOME=/h", `RAY_JOB_HEADERS={"X": "1"}`, "PATH=/bin"}, "T")
	want := []string{"HOME=/h", "PATH=/bin", `RAY_JOB_HEADERS={"Authorization": "Bearer T", "X": "1"}`}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Environ = %q, %v", got, err)
	}
}

// Values a shell must take literally.
var tricky = []string{
	`{"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2ln"}`,
	`it's`, `'`, `''`, `\'`, `$HOME`, "`id`", `$(id)`, `a\nb`, "line\nbreak", `"quoted"`, `!event`, `*`, `~`, `%PATH%`, "\u2019smart\u2018", "",
}

func TestExportSh(t *testing.T) {
	for _, sh := range []string{"sh", "bash", "dash", "zsh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		for _, v := range tricky {
			line, err := Export("sh", Var, v)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(path, "-c", line+`; printf %s "$RAY_JOB_HEADERS"`).Output()
			if err != nil || string(out) != v {
				t.Errorf("%s: %s gave %q (%v), want %q", sh, line, out, err, v)
			}
		}
	}
}

func TestExportShells(t *testing.T) {
	for _, tc := range []struct{ shell, value, want string }{
		{"sh", `{"a": "it's"}`, `export RAY_JOB_HEADERS='{"a": "it'\''s"}'`},
		{"fish", `{"a": "it's \\ $x"}`, `set -gx RAY_JOB_HEADERS '{"a": "it\'s \\\\ $x"}'`},
		{"powershell", `{"a": "it's $x"}`, `$env:RAY_JOB_HEADERS = '{"a": "it''s $x"}'`},
		{"powershell", "\u2019", "$env:RAY_JOB_HEADERS = '\u2019\u2019'"},
	} {
		got, err := Export(tc.shell, Var, tc.value)
		if err != nil || got != tc.want {
			t.Errorf("Export(%s, %q) = %s, %v\nwant %s", tc.shell, tc.value, got, err, tc.want)
		}
	}
	// Real shells, where installed.
	for shell, argv := range map[string][]string{"fish": {"fish", "-c"}, "powershell": {"pwsh", "-NoProfile", "-Command"}} {
		path, err := exec.LookPath(argv[0])
		if err != nil {
			continue
		}
		read := map[string]string{"fish": `; printf %s "$RAY_JOB_HEADERS"`, "powershell": `; [Console]::Out.Write($env:RAY_JOB_HEADERS)`}[shell]
		for _, v := range tricky {
			if v == "" {
				continue
			}
			line, _ := Export(shell, Var, v)
			out, err := exec.Command(path, append(argv[1:], line+read)...).Output()
			if err != nil || string(out) != v {
				t.Errorf("%s: %s gave %q (%v), want %q", shell, line, out, err, v)
			}
		}
	}
	if _, err := Export("tcsh", Var, "x"); err == nil || err.Error() != `unknown shell "tcsh" (one of sh, fish, powershell)` {
		t.Fatalf("Export(tcsh) = %v", err)
	}
	if _, err := Export("sh", Var, "a\x00b"); err == nil {
		t.Fatal("a NUL byte was exported")
	}
}
