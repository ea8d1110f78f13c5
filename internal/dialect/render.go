package dialect

import "github.com/agui-go/sessionsec/schema"

// DefaultText renders a logical default in the normalized form snapshots use ("0", "1", "now"), nil for none.
func DefaultText(d schema.Default) *string {
	var v string
	switch d {
	case schema.DefaultOne:
		v = "1"
	case schema.DefaultZero:
		v = "0"
	case schema.DefaultNow:
		v = "now"
	default:
		return nil
	}
	return &v
}

// PredicateText renders a partial-index predicate in the normalized, lower-case form snapshots use;
// "" for a plain index.
func PredicateText(p *schema.Predicate) string {
	if p == nil {
		return ""
	}
	switch p.Op {
	case schema.IsNotNull:
		return p.Column + " is not null"
	case schema.GreaterThan0:
		return p.Column + " > 0"
	}
	return ""
}
