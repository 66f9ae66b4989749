// Package meta_test holds checks on the code base as a whole.
package meta_test

import (
	"go/ast"
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

// TestExportedNamesDocumented: every exported function, method, type,
// constant and variable under internal/ has a doc comment.
func TestExportedNamesDocumented(t *testing.T) {
	_ = filepath.WalkDir("../../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && d.Doc == nil && exportedRecv(d) {
					t.Errorf("%s: %s has no doc comment", path, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					var names []*ast.Ident
					var doc *ast.CommentGroup
					switch s := spec.(type) {
					case *ast.TypeSpec:
						names, doc = []*ast.Ident{s.Name}, s.Doc
					case *ast.ValueSpec:
						names, doc = s.Names, s.Doc
					}
					for _, n := range names {
						if n.IsExported() && doc == nil && d.Doc == nil {
							t.Errorf("%s: %s has no doc comment", path, n.Name)
						}
					}
				}
			}
		}
		return nil
	})
}

// exportedRecv reports whether a function is a plain function or a method
// on an exported type (methods of unexported types are not API).
func exportedRecv(d *ast.FuncDecl) bool {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return true
	}
	t := d.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.IsExported()
	}
	return true
}
