package config

import "strconv"

// Position is where a part of the config is written, for messages that
// point at it.
type Position struct {
	// File is the config file's path as it was loaded.
	File string
	// Line is the 1-based line; 0 when unknown (a config built in code).
	Line int
	// Field is the dotted path of the part, e.g. clusters[0].access[1].
	Field string
}

// String renders the position as FILE:LINE (FILE alone when the line is
// unknown, "" when nothing is known).
func (p Position) String() string {
	switch {
	case p.File == "":
		return p.Field
	case p.Line == 0:
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}
