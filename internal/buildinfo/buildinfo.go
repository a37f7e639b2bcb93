// Package buildinfo reports the version mote was built as.
package buildinfo

import "runtime/debug"

// version is set at link time with -ldflags "-X .../buildinfo.version=v1.2.3".
var version string

// Version returns the release version, the module version recorded by the
// Go toolchain, or "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
