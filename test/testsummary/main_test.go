package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"ok\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.1}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: boom\n"}
{"Action":"output","Package":"p","Test":"TestB/fine","Output":"        --- PASS: TestB/fine (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestB/fine","Elapsed":0}
{"Action":"output","Package":"p","Test":"TestB/sub","Output":"        b_test.go:7: sub went wrong\n"}
{"Action":"fail","Package":"p","Test":"TestB/sub","Elapsed":0}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":0}
{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:9: Ray not available\n"}
{"Action":"skip","Package":"p","Test":"TestC","Elapsed":0}
{"Action":"fail","Package":"p","Elapsed":1.5}
{"Action":"pass","Package":"q","Test":"TestD","Elapsed":0}
{"Action":"pass","Package":"q","Elapsed":0.2}
`

func TestSummary(t *testing.T) {
	var out bytes.Buffer
	code := run(strings.NewReader(sample), &out, "unit", false)
	got := out.String()
	for _, want := range []string{"--- FAIL: TestB (p)\n    b_test.go:3: boom", "--- SKIP: TestC (p)", "Ray not available", "FAIL p", "1 passed, 1 failed, 1 skipped", "ok   q", "unit: 2 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "b_test.go:7: sub went wrong") || strings.Contains(got, "TestB/fine") {
		t.Errorf("a failing test is shown with its failing subtests' output, not its passing ones:\n%s", got)
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	skipOnly := `{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"pass","Package":"p"}
`
	if c := run(strings.NewReader(skipOnly), &bytes.Buffer{}, "e2e", false); c != 0 {
		t.Fatalf("skip without --no-skips: exit %d", c)
	}
	if c := run(strings.NewReader(skipOnly), &bytes.Buffer{}, "e2e", true); c != 1 {
		t.Fatalf("skip with --no-skips: exit %d", c)
	}
}
