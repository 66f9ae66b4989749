// Package version reports the build's version, commit and Go version. The
// first two are set at link time:
//
//	go build -ldflags "-X github.com/raygate/raygate/internal/version.Version=v0.1.0 \
//	  -X github.com/raygate/raygate/internal/version.Commit=$(git rev-parse HEAD)"
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version, "dev" for an untagged build.
var Version = "dev"

// Commit is the source commit the binary was built from, when known.
var Commit = ""

// Info describes one build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
}

// Get returns the build's Info, falling back to the VCS stamp Go records in
// the binary when Commit was not set at link time.
func Get() Info {
	commit := Commit
	if commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return Info{Version: Version, Commit: commit, GoVersion: runtime.Version()}
}

// String renders the Info as one line.
func (i Info) String() string {
	return fmt.Sprintf("raygate %s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}
