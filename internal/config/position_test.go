package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestBindingPositions(t *testing.T) {
	text := `authentication:
  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    access:
      - {role: developer, groups: [team-a]}
      - role: viewer
        users:
          - auditor@example.com
authorization:
  kubernetes: {}
discovery:
  kubernetes:
    access:
      - {role: viewer, groups: [everyone]}
`
	c, err := Parse("x.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		got  Position
		want string
		line int
	}{
		{c.Clusters[0].Access[0].Position, "clusters[0].access[0]", 8},
		{c.Clusters[0].Access[1].Position, "clusters[0].access[1]", 9},
		{c.Discovery.Kubernetes.Access[0].Position, "discovery.kubernetes.access[0]", 17},
	} {
		if tc.got.Field != tc.want || tc.got.Line != tc.line || tc.got.File != "x.yaml" {
			t.Errorf("position %+v, want %s at line %d", tc.got, tc.want, tc.line)
		}
	}
	if s := c.Clusters[0].Access[1].Position.String(); s != "x.yaml:9" {
		t.Errorf("String() = %q", s)
	}
	if s := (Position{Field: "clusters[0].access[0]"}).String(); s != "clusters[0].access[0]" {
		t.Errorf("String() without file = %q", s)
	}
}

// TestLoadPolicy reads a config whose named files exist only where it is
// deployed: Load refuses it, LoadPolicy reads it, and both refuse
// everything else that is wrong.
func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	text := `tls: {certFile: /etc/raygate/tls.crt, keyFile: /etc/raygate/tls.key}
listen: 127.0.0.1:8080
authentication:
  oidc:
    - {issuer: https://idp.example, audiences: [raygate], login: true, clientID: raygate, clientSecretFile: /etc/raygate/client.secret}
  session: {keyFiles: [/etc/raygate/session.key]}
  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]
clusters:
  - namespace: team-a
    name: ray1
    upstream: http://127.0.0.1:8265
    rayTokenFile: /etc/raygate/tokens/team-a
    access: [{role: developer, groups: [team-a]}]
audit: {file: /var/log/raygate-nowhere/audit.log}
`
	path := filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var ps Problems
	if _, err := Load(path); !errors.As(err, &ps) || len(ps) != 5 {
		t.Fatalf("Load: %v, want the five missing files", err)
	}
	for _, p := range ps {
		if !p.NamedFile {
			t.Errorf("problem %s is not marked as a named file's", p)
		}
	}
	c, err := LoadPolicy(path)
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	if c.Clusters[0].Access[0].Position.Line != 13 {
		t.Errorf("binding position %+v", c.Clusters[0].Access[0].Position)
	}
	bad := text + "clusters2: []\n"
	if _, err := ParsePolicy(path, []byte(bad)); err == nil {
		t.Fatal("ParsePolicy accepted an unknown field")
	}
	bad = text[:len(text)-1] + "\nlisten: nowhere\n"
	if _, err := ParsePolicy(path, []byte(bad)); err == nil {
		t.Fatal("ParsePolicy accepted an invalid listen address")
	}
}
