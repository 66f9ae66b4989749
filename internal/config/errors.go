package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	// File is the config file's path.
	File string
	// Line is the 1-based line the problem is on; 0 when unknown.
	Line int
	// Field is the dotted path of the field, e.g. clusters[0].upstream; ""
	// for the file as a whole.
	Field string
	// Msg says what is wrong.
	Msg string
	// NamedFile is true for a problem with a file the config names (a
	// certificate, a token, a folder), which may exist only where raygate
	// is deployed; LoadPolicy ignores such problems.
	NamedFile bool
}

// String renders the problem as FILE:LINE: message.
func (p Problem) String() string {
	loc := p.File
	if loc == "" {
		loc = "config"
	}
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, p.Line)
	}
	if p.Field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Field, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Problems is every problem found in one config; it is the error Load
// returns for an invalid file.
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
