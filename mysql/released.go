package mysql

import "strings"

// Released reports whether body is a definition of name an earlier release created. Every release's
// routines carry a COMMENT starting with RoutineCommentPrefix and every release's triggers raise
// "sessionsec: ..." on a bad risk score, so the marker is in the definition itself.
func (Dialect) Released(_, body string) bool { return strings.Contains(body, "'sessionsec: ") }
