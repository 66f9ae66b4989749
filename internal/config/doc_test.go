package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestEveryFieldDocumented keeps docs/configuration.md complete: every
// field of the file format must be named there.
func TestEveryFieldDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeOf(Duration(0)) {
			return
		}
		for name, f := range yamlFields(typ) {
			full := joinPath(path, name)
			if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "."+name+"`") && !strings.Contains(doc, "`"+name+" ") {
				t.Errorf("docs/configuration.md does not document %s", full)
			}
			walk(f.Type, full)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}
