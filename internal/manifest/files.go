package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IsManifestFile reports whether a file found while walking a folder is
// read as a manifest: .yaml, .yml or .json.
func IsManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// FindFiles expands paths into the manifest files to read: a file is taken
// as it is, whatever its name; a folder is walked (hidden entries skipped)
// for .yaml, .yml and .json files, in lexical order. "-" stands for
// standard input and is kept.
func FindFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "-" {
			out = append(out, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", unwrapPath(err, p))
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return unwrapPath(err, path)
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && IsManifestFile(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// ReadFile reads a manifest file ("-" is stdin), refusing files larger than
// MaxFileSize.
func ReadFile(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, unwrapPath(err, path)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, unwrapPath(err, path)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: file is larger than %d bytes", path, MaxFileSize)
	}
	return b, nil
}

// unwrapPath turns *fs.PathError into "path: reason" without Go's "open"
// or "stat" prefix.
func unwrapPath(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
