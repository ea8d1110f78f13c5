package sqlstmt

import (
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// binder collects one statement's arguments and hands out the dialect's placeholder for each. Values
// are bound in the order their placeholders appear in the text: "?" dialects bind by position, so a
// statement writes its parts strictly left to right.
type binder struct {
	sp   dialect.Spelling
	args []any
}

func (b *binder) bind(v any) string {
	b.args = append(b.args, v)
	return b.sp.Param(len(b.args))
}

func (b *binder) q(name string) string { return b.sp.Quote(name) }

// list binds every value of vs and joins their placeholders: "?, ?, ?".
func (b *binder) list(vs []any) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = b.bind(v)
	}
	return strings.Join(ph, ", ")
}

// quoted quotes every name and joins them.
func (b *binder) quoted(names []string) string {
	qs := make([]string, len(names))
	for i, n := range names {
		qs[i] = b.q(n)
	}
	return strings.Join(qs, ", ")
}

// Cond is a condition over a row. Its values are bound when the statement that uses it is built, so
// the same condition serves statements whose other placeholders come before it. The zero Cond is no
// condition: every row.
type Cond struct {
	write func(*binder) string
	// atom: the text needs no parentheses as an operand of AND, OR or NOT.
	atom bool
}

// IsZero reports the zero Cond.
func (c Cond) IsZero() bool { return c.write == nil }

// operand is c's text as an operand of AND or OR.
func (c Cond) operand(b *binder) string {
	if c.atom {
		return c.write(b)
	}
	return "(" + c.write(b) + ")"
}

// Raw is a condition a dialect rendered itself (dialect.Rules, Spelling.Before): its literals are
// instants and numbers the core computed, never data read from or bound for a row. Raw is the only
// way text other than a quoted identifier or a placeholder gets into a condition.
func Raw(sql string) Cond {
	return Cond{write: func(*binder) string { return sql }}
}

// Op is a comparison operator.
type Op int

// The comparison operators.
const (
	Eq Op = iota // =
	Ne           // <>
	Lt           // <
	Gt           // >
)

func (o Op) String() string {
	switch o {
	case Eq:
		return "="
	case Ne:
		return "<>"
	case Lt:
		return "<"
	case Gt:
		return ">"
	}
	panic("sqlstmt: unknown operator")
}

// Compare is "col op ?" with v bound.
func Compare(col string, op Op, v any) Cond {
	return Cond{atom: true, write: func(b *binder) string { return b.q(col) + " " + op.String() + " " + b.bind(v) }}
}

// CompareExpr is "col op expr", expr an expression the dialect rendered (dialect.Rules.RiskScore).
func CompareExpr(col string, op Op, expr string) Cond {
	return Cond{atom: true, write: func(b *binder) string { return b.q(col) + " " + op.String() + " " + expr }}
}

// In is "col IN (?, ?, ...)" with every value of vs bound. vs must not be empty (IN () is no SQL).
func In(col string, vs []any) Cond {
	if len(vs) == 0 {
		panic("sqlstmt: In over no values")
	}
	return Cond{atom: true, write: func(b *binder) string { return b.q(col) + " IN (" + b.list(vs) + ")" }}
}

// IsNull is "col IS NULL".
func IsNull(col string) Cond {
	return Cond{atom: true, write: func(b *binder) string { return b.q(col) + " IS NULL" }}
}

// NotNull is "col IS NOT NULL".
func NotNull(col string) Cond {
	return Cond{atom: true, write: func(b *binder) string { return b.q(col) + " IS NOT NULL" }}
}

// Not is "NOT (c)".
func Not(c Cond) Cond {
	return Cond{atom: true, write: func(b *binder) string { return "NOT (" + c.write(b) + ")" }}
}

// And joins the conditions that are not zero with AND; the zero Cond when there are none.
func And(cs ...Cond) Cond { return join(" AND ", cs, false) }

// Or joins the conditions that are not zero with OR, in parentheses; the zero Cond when there are none.
func Or(cs ...Cond) Cond { return join(" OR ", cs, true) }

func join(sep string, cs []Cond, paren bool) Cond {
	var kept []Cond
	for _, c := range cs {
		if !c.IsZero() {
			kept = append(kept, c)
		}
	}
	switch len(kept) {
	case 0:
		return Cond{}
	case 1:
		return kept[0]
	}
	return Cond{atom: paren, write: func(b *binder) string {
		parts := make([]string, len(kept))
		for i, c := range kept {
			parts[i] = c.operand(b)
		}
		s := strings.Join(parts, sep)
		if paren {
			return "(" + s + ")"
		}
		return s
	}}
}

// where is " WHERE c", or "" for the zero Cond.
func (b *binder) where(c Cond) string {
	if c.IsZero() {
		return ""
	}
	return " WHERE " + c.write(b)
}
