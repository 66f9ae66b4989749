package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/raygate/raygate/internal/manifest"
)

// platformCases returns the folders of testdata/platform: each is a set of
// files (an operator install, a platform's workloads) checked together.
func platformCases(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", "platform", "*"))
	var dirs []string
	for _, d := range all {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no platform cases: %v", err)
	}
	return dirs
}

// readSet reads every manifest of a folder as lint reads a set of paths.
func readSet(t testing.TB, dir string) []Input {
	t.Helper()
	files, err := manifest.FindFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var in []Input
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := manifest.Read(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		in = append(in, Input{Name: filepath.ToSlash(f), File: mf})
	}
	return in
}

// TestGoldenPlatform writes the findings of every platform case in the
// three formats and compares them with testdata/golden/platform.
func TestGoldenPlatform(t *testing.T) {
	for _, dir := range platformCases(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			in := readSet(t, dir)
			fs := CheckSet(in, Options{})
			for _, format := range []string{FormatText, FormatJSON, FormatSARIF} {
				var buf bytes.Buffer
				if err := Report(&buf, format, fs, len(in), "test"); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", "platform", name+"."+format)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if !bytes.Equal(want, buf.Bytes()) {
					t.Errorf("%s findings differ from %s (run with -update and review the diff):\n%s", format, golden, buf.String())
				}
			}
		})
	}
}

// TestPlatformVerdicts pins what the golden files show: the insecure
// operator and the workloads never lint clean, the single-namespace
// install and the restricted workloads do.
func TestPlatformVerdicts(t *testing.T) {
	for _, tt := range []struct {
		dir    string
		errors bool
	}{
		{"insecure-operator", true},
		{"helm-cluster-wide", true},
		{"config-file", true},
		{"workloads", true},
		{"helm-single-namespace", false},
	} {
		fs := CheckSet(readSet(t, filepath.Join("testdata", "platform", tt.dir)), Options{})
		if HasErrors(fs) != tt.errors {
			t.Errorf("%s: errors=%v, want %v: %v", tt.dir, HasErrors(fs), tt.errors, fs)
		}
	}
	fs, err := File("restricted.yaml", mustReadFile(t, filepath.Join("testdata", "platform", "workloads", "restricted.yaml")))
	if err != nil || len(fs) != 0 {
		t.Errorf("restricted workloads: %v %v", fs, err)
	}
}

func mustReadFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
