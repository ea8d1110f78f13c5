package dialect

import (
	"strings"

	"github.com/agui-go/sessionsec/schema"
)

// The SQL text and file comments every dialect writes alike. Only the identifier quoting differs, so the
// helpers that quote take the dialect's quote function.

// QuoteList quotes each name with quote and joins them with ", ": an index's key or an INSERT's columns.
func QuoteList(quote func(string) string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// Predicate writes the WHERE clause of a partial index with the column quoted by quote.
func Predicate(quote func(string) string, p schema.Predicate) string {
	if p.Op == schema.GreaterThan0 {
		return quote(p.Column) + " > 0"
	}
	return quote(p.Column) + " IS NOT NULL"
}

// Indent puts prefix before every line of s and ends it with one newline (trailing newlines of s
// collapse into it), for a statement nested in a block.
func Indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// IPDoc is the part of the insert trigger's comment that tells created_ip_hash is filled, for a layout
// with an IP column ("" otherwise).
func IPDoc(t Target) string {
	if !t.Has(schema.RoleIP) {
		return ""
	}
	return " and created_ip_hash from " + t.Col(schema.RoleIP)
}

// RevisionDoc is the comment of a step that installs a later revision of a trigger.
func RevisionDoc(t Target, step schema.Step) string {
	if step.Rev() >= schema.RevisionKeyedIP && t.Has(schema.RoleIP) {
		return "Security version 2: new rows no longer get the unkeyed created_ip_hash (an unkeyed SHA-256 of an IPv4 address\n" +
			"-- is reversed by enumeration); it stays NULL until the library's sealer writes the keyed binding."
	}
	return "Security version 2: the insert trigger's definition of this release (this layout has no IP column: unchanged)."
}

// AuditIndexObjects are the audit log's indexes as Inspect reports them on every dialect (plain b-trees).
func AuditIndexObjects() []*Index {
	out := make([]*Index, 0, len(schema.Change.AuditIndexes))
	for _, ix := range schema.Change.AuditIndexes {
		out = append(out, &Index{Table: schema.Change.AuditLog, Name: ix.Name, Columns: ix.Columns, Valid: true, Method: "btree"})
	}
	return out
}

// BaseTableLines is the body of the CREATE TABLE that step 1 writes for layout l: one line per base
// column, "    <quoted name> <its type on dialectName><attrs(c)>", then the PRIMARY KEY line.
func BaseTableLines(l schema.Layout, dialectName string, quote func(string) string, attrs func(schema.BaseColumn) string) []string {
	var lines, pk []string
	for _, c := range l.Base() {
		name := quote(l.ColumnName(c))
		lines = append(lines, "    "+name+" "+c.Types[dialectName]+attrs(c))
		if c.PrimaryKey {
			pk = append(pk, name)
		}
	}
	return append(lines, "    PRIMARY KEY ("+strings.Join(pk, ", ")+")")
}

// NotNullDefault is the attrs of BaseTableLines where a nullable column needs no keyword: NOT NULL
// where the column requires it, then its default as the dialect spells it (defaults).
func NotNullDefault(defaults map[schema.Default]string) func(schema.BaseColumn) string {
	return func(c schema.BaseColumn) string {
		s := ""
		if c.NotNull {
			s = " NOT NULL"
		}
		if d, ok := defaults[c.Default]; ok {
			s += " DEFAULT " + d
		}
		return s
	}
}
