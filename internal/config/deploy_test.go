package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestShippedConfigs: the configs in the README and in the Kubernetes
// manifests have no mistakes beyond the files that only exist where they
// are deployed.
func TestShippedConfigs(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/kubernetes/raygate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var fromConfigMap string
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.Kind == "ConfigMap" {
			fromConfigMap = doc.Data["raygate.yaml"]
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(readme), "### A config\n\n```yaml\n")
	fromReadme, _, _ := strings.Cut(rest, "```")
	for name, text := range map[string]string{"deploy/kubernetes/raygate.yaml": fromConfigMap, "README.md": fromReadme} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(text, "clusters:") {
				t.Fatal("config not found")
			}
			_, err := Parse("/nonexistent/raygate.yaml", []byte(text))
			var ps Problems
			if err != nil && !errors.As(err, &ps) {
				t.Fatal(err)
			}
			for _, p := range ps {
				switch {
				case strings.HasPrefix(p.Field, "tls") && strings.Contains(p.Msg, "cannot load"),
					strings.HasSuffix(p.Field, "rayTokenFile") && strings.Contains(p.Msg, "cannot read"),
					(strings.HasSuffix(p.Field, "clientSecretFile") || strings.Contains(p.Field, "keyFiles[")) && strings.Contains(p.Msg, "cannot read"):
				default:
					t.Errorf("%s", p)
				}
			}
		})
	}
}
