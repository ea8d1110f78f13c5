package sessionsec

import "encoding/json"

// The JSON forms write an empty list as [] rather than null: a consumer can iterate every list field
// without a null check, and "none" reads the same whether the Go value was nil or empty.

// orEmpty is s, or an empty slice when s is nil.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MarshalJSON writes the report with problems and notes as lists, empty ones included.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	c := plain(r)
	c.Problems, c.Notes = orEmpty(c.Problems), orEmpty(c.Notes)
	return json.Marshal(c)
}

// MarshalJSON writes the status with applied and pending as lists, empty ones included.
func (s MigrationStatus) MarshalJSON() ([]byte, error) {
	type plain MigrationStatus
	c := plain(s)
	c.Applied, c.Pending = orEmpty(c.Applied), orEmpty(c.Pending)
	return json.Marshal(c)
}

// MarshalJSON writes the result with kept as a list, empty or not.
func (r RollbackResult) MarshalJSON() ([]byte, error) {
	type plain RollbackResult
	c := plain(r)
	c.Kept = orEmpty(c.Kept)
	return json.Marshal(c)
}

// MarshalJSON writes the plan with steps and problems as lists, empty ones included.
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	c := plain(p)
	c.Steps, c.Problems = orEmpty(c.Steps), orEmpty(c.Problems)
	return json.Marshal(c)
}
