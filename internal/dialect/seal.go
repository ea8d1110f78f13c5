package dialect

// SealReader spells how the seal's fields are read from the session table's current row, so that the
// core reads them exactly as the version 1 hash reads them (a binary key as hex, the creation time as
// whole epoch seconds whatever the column's type and the connection's time zone).
type SealReader interface {
	// SealExprs returns the SQL expressions over the unqualified row of t's session table.
	SealExprs(t Target) SealExprs
}

// SealExprs are the seal's fields as SQL expressions, each read as text or an integer.
type SealExprs struct {
	Key   string // the session key as text (binary keys as lower-case hex)
	User  string // the user as text (binary as hex); NULL stays NULL
	Epoch string // the creation time as whole seconds since 1970-01-01 UTC, rounded down
	IP    string // the client IP as text ("" when the layout has no IP column)
	Now   string // the current time for last_validated_at, as the triggers write it
}
