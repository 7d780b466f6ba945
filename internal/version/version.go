// Package version says which build of Parley is running, from the
// information the Go toolchain records in every binary.
package version

import (
	"runtime/debug"
	"strings"
)

// String is the module version ("(devel)" for a build from a checkout),
// with the commit and a mark for uncommitted changes when the build
// recorded them, and the Go version.
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	parts := []string{v}
	if rev != "" {
		parts = append(parts, rev[:min(12, len(rev))]+dirty)
	}
	return strings.Join(append(parts, info.GoVersion), " ")
}
