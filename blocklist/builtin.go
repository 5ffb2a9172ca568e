package blocklist

import (
	"embed"
	"io"
	"io/fs"
	"sort"
	"strings"
)

// builtinFS holds the starter lists compiled into the binary, so that a
// fresh install filters something before any download succeeds. Their
// origin and licences are in builtin/LICENSES.md.
//
//go:embed builtin/*.txt
var builtinFS embed.FS

// Builtins returns the names of the embedded lists, for Source.Builtin.
func Builtins() []string {
	ents, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".txt"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func builtinExists(name string) bool {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return false
	}
	_, err := fs.Stat(builtinFS, builtinPath(name))
	return err == nil
}

func builtinPath(name string) string { return "builtin/" + name + ".txt" }

func openBuiltin(name string) (io.ReadCloser, error) {
	return builtinFS.Open(builtinPath(name))
}
