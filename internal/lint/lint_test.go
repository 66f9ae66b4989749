package lint

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// samples returns the KubeRay sample manifests under testdata/kuberay.
func samples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "kuberay", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	return files
}

func TestGoldenSamples(t *testing.T) {
	for _, f := range samples(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := File(name, data)
			if err != nil {
				t.Fatalf("lint: %v", err)
			}
			var buf bytes.Buffer
			if err := Report(&buf, FormatJSON, fs, 1, "test"); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".yaml")+".json")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("findings differ from %s (run with -update and review the diff):\n%s", golden, buf.String())
			}
		})
	}
}

func TestJSONShape(t *testing.T) {
	fs, err := File("x.yaml", []byte(insecureCluster))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Report(&buf, FormatJSON, fs, 1, "test"); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no findings")
	}
	want := []string{"document", "field", "file", "kind", "message", "name", "rule", "severity"}
	for _, f := range got {
		var keys []string
		for k := range f {
			keys = append(keys, k)
		}
		if strings.Join(sorted(keys), ",") != strings.Join(want, ",") {
			t.Fatalf("finding keys %v, want %v", sorted(keys), want)
		}
		if s := f["severity"]; s != "error" && s != "warning" && s != "info" {
			t.Errorf("severity %v", s)
		}
	}
	buf.Reset()
	if err := Report(&buf, FormatJSON, nil, 0, "test"); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("no findings must print [], got %q (%v)", buf.String(), err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func TestSARIF(t *testing.T) {
	fs, err := File("dir/x.yaml", []byte(insecureCluster))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Report(&buf, FormatSARIF, fs, 1, "v1"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "raygate" {
		t.Fatalf("bad SARIF header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Results) != len(fs) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(fs))
	}
	for _, r := range run.Results {
		if r.RuleIndex < 0 || run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s has rule index %d", r.RuleID, r.RuleIndex)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != "dir/x.yaml" || loc.Region.StartLine < 1 {
			t.Errorf("result %s location %+v", r.RuleID, loc)
		}
		if r.Level != "error" && r.Level != "warning" && r.Level != "note" {
			t.Errorf("level %q", r.Level)
		}
	}
}

func TestText(t *testing.T) {
	fs, err := File("x.yaml", []byte(insecureCluster))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Report(&buf, FormatText, fs, 1, ""); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "x.yaml:") || !strings.Contains(out, "error PSS-privileged RayCluster/insecure (document 1)") {
		t.Errorf("text report:\n%s", out)
	}
	if !strings.HasSuffix(out, "in 1 file\n") {
		t.Errorf("missing summary:\n%s", out)
	}
	if err := Report(&buf, "xml", fs, 1, ""); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestParseError(t *testing.T) {
	_, err := File("bad.yaml", []byte("apiVersion: ray.io/v1\nkind: [unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Fatalf("want a parse error with a line, got %v", err)
	}
}

func TestRulesDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Fix == "" {
			t.Errorf("rule %s lacks summary or fix", r.ID)
		}
		if !strings.HasPrefix(r.ID, "PSS-") && !strings.HasPrefix(r.ID, "RG-") {
			t.Errorf("rule %s has no PSS- or RG- prefix", r.ID)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "hardening.md"))
	if err != nil {
		t.Fatalf("docs/hardening.md: %v", err)
	}
	for id := range seen {
		if !bytes.Contains(doc, []byte("`"+id+"`")) {
			t.Errorf("docs/hardening.md does not document %s", id)
		}
	}
}
