// Package meta_test holds checks on the code base as a whole.
package meta_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackagesHaveDocComments: every package under cmd/, internal/ and
// test/ says what it is for.
func TestPackagesHaveDocComments(t *testing.T) {
	for _, root := range []string{"../../cmd", "../../internal", "../../test"} {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") {
				if d != nil && d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			files, _ := filepath.Glob(filepath.Join(path, "*.go"))
			documented, any := false, false
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				any = true
				af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ParseComments|parser.PackageClauseOnly)
				if err != nil {
					t.Errorf("%s: %v", f, err)
					continue
				}
				if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
					documented = true
				}
			}
			if any && !documented {
				t.Errorf("package in %s has no doc comment", path)
			}
			return nil
		})
	}
}

// TestFilesAreSmall keeps files readable: none over 800 lines.
func TestFilesAreSmall(t *testing.T) {
	for _, root := range []string{"../../cmd", "../../internal", "../../test"} {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return nil
			}
			b, _ := os.ReadFile(path)
			if n := strings.Count(string(b), "\n"); n > 800 {
				t.Errorf("%s has %d lines (keep files under 800)", path, n)
			}
			return nil
		})
	}
}
