package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem found in a configuration file.
type Error struct {
	File string
	Line int // 1-based; 0 when the problem has no line of its own
	Msg  string
}

// Error formats the problem as "file:line: reason", the form editors and
// terminals turn into a link.
func (e Error) Error() string {
	if e.Line > 0 {
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return e.File + ": " + e.Msg
}

// Errors is every problem found in a file, in line order. A config is
// rejected as a whole, so reporting everything at once saves the user a
// fix-and-retry round per mistake.
type Errors []Error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// errs collects problems while a file is walked.
type errs struct {
	file string
	list Errors
	// stop is set when the walk can no longer be trusted (too many
	// aliases): later problems would only be echoes of that one.
	stop bool
}

func (c *errs) add(line int, format string, args ...any) {
	if c.stop {
		return
	}
	c.list = append(c.list, Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// result returns the problems in line order, or nil (an untyped nil, so
// that err != nil works for callers) when there are none.
func (c *errs) result() error {
	if len(c.list) == 0 {
		return nil
	}
	sort.SliceStable(c.list, func(i, j int) bool { return c.list[i].Line < c.list[j].Line })
	return c.list
}

// syntaxError turns a yaml.v3 parse error into an Error of the file;
// yaml.v3 carries the line only inside its message ("yaml: line 3: ...").
func syntaxError(file string, err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, reason, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				return Error{File: file, Line: line, Msg: "YAML syntax: " + reason}
			}
		}
	}
	return Error{File: file, Msg: "YAML syntax: " + msg}
}
