// Command kuberay renders the KubeRay operator's own install, the
// kustomize config KubeRay ships in its Go module
// (github.com/ray-project/kuberay/ray-operator, under config/), with
// kustomize's Go API, for raygate's end-to-end tests: every pod-bearing
// object of it is linted and compared with the API server's Pod Security
// Admission. It lives in its own module so that kustomize stays out of
// raygate's dependencies.
//
//	kuberay -out DIR
//
// writes DIR/default.yaml, manager.yaml, rbac.yaml and
// default-with-webhooks.yaml, one per kustomization.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Module and Version name the KubeRay release whose config is rendered.
const (
	Module  = "github.com/ray-project/kuberay/ray-operator"
	Version = "v1.5.0"
)

// Kustomizations are the folders of config/ rendered, each into
// NAME.yaml.
var Kustomizations = []string{"default", "manager", "rbac", "default-with-webhooks"}

func main() {
	out := flag.String("out", "", "folder to write the rendered manifests to")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "kuberay: -out is required")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "kuberay: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	dir, err := moduleDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for _, name := range Kustomizations {
		res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "config", name))
		if err != nil {
			return fmt.Errorf("render config/%s: %w", name, err)
		}
		y, err := res.AsYaml()
		if err != nil {
			return fmt.Errorf("encode config/%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".yaml"), y, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// moduleDir downloads (or finds in the module cache) KubeRay's module
// with the go command and returns its folder.
func moduleDir() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", Module+"@"+Version)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v: %s", Module, Version, err, stderr.String())
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		return "", fmt.Errorf("go mod download: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", errors.New("go mod download: " + m.Error)
	}
	return m.Dir, nil
}
