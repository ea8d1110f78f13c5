package schema

import (
	"fmt"
	"strings"
)

var typeNames = map[Type]string{
	TypeSessionID: "session key", TypeTimestamp: "timestamp", TypeHash: "SHA-256 hex (64)",
	TypeKeyID: "key id (128)", TypeVersion: "integer", TypeRiskScore: "small integer", TypeAuditID: "auto id",
	TypeAction: "text (64)", TypeDetails: "JSON",
}

var defaultNames = map[Default]string{NoDefault: "", DefaultOne: "1", DefaultZero: "0", DefaultNow: "now", DefaultTrue: "true"}

// Markdown renders the change as the tables the README shows, for the session table "sessions".
// TestREADME checks that README.md contains exactly this text, so the documentation cannot drift from
// what Validate checks.
func (d Declaration) Markdown() string {
	n := NamesFor("sessions")
	var b strings.Builder
	b.WriteString("Layouts recognised (the table name is configurable; `WithLayout` maps other columns):\n\n")
	b.WriteString("| role | `spec` (fresh databases) | `agui` (the AG-UI Go SDK's store) |\n|---|---|---|\n")
	for _, r := range Roles {
		opt := ""
		if r.Optional() {
			opt = " (optional)"
		}
		fmt.Fprintf(&b, "| %s%s | %s | %s |\n", r, opt, code(Spec.Column(r)), code(AGUI.Column(r)))
	}
	b.WriteString("\nColumns added to the session table:\n\n| column | type | null | default | comment |\n|---|---|---|---|---|\n")
	for _, c := range d.Columns {
		null := "NOT NULL"
		if c.Nullable {
			null = "NULL"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.Name, typeNames[c.Type], null, defaultNames[c.Default], c.Comment)
	}
	b.WriteString("\nIndexes on `sessions` (non-unique; partial where the dialect has partial indexes - PostgreSQL, SQLite; `idx_<table>_...` on another table):\n\n| index | columns | partial predicate |\n|---|---|---|\n")
	for _, ix := range d.Indexes {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", n.Index(ix), strings.Join(ix.Columns, ", "), ix.Partial.String())
	}
	b.WriteString("\nTriggers (`<table>_...` on another table):\n\n| trigger | fires |\n|---|---|\n")
	for _, t := range d.Triggers {
		fmt.Fprintf(&b, "| `%s` | %s %s |\n", n.Trigger(t), t.Timing, t.Event)
	}
	b.WriteString("\nRoutines (MySQL/MariaDB and PostgreSQL; SQLite gets Go functions instead):\n\n| routine | kind | what it does |\n|---|---|---|\n")
	for _, r := range d.Routines {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.Name, strings.ToLower(string(r.Kind)), r.Doc)
	}
	b.WriteString("\nTables:\n\n")
	cols := make([]string, 0, len(d.AuditColumns))
	for _, c := range d.AuditColumns {
		cols = append(cols, "`"+c.Name+"`")
	}
	idx := make([]string, 0, len(d.AuditIndexes))
	for _, i := range d.AuditIndexes {
		idx = append(idx, "`"+i.Name+"`")
	}
	fmt.Fprintf(&b, "- `%s`: %s; indexes %s.\n", d.AuditLog, strings.Join(cols, ", "), strings.Join(idx, ", "))
	fmt.Fprintf(&b, "- `%s` (`<table>%s`): the columns of the session table as they were when the archive was created, so `INSERT INTO %s SELECT * FROM %s WHERE ...` works; a column the application adds later is added to the archive by the next `Archive` (or add it yourself, or name the columns).\n", n.Archive, d.ArchiveSuffix, n.Archive, n.Table)
	fmt.Fprintf(&b, "\n`%s` is enforced between %d and %d on every write; cleanup deletes sessions above %d.\n",
		d.Risk.Column, d.Risk.Min, d.Risk.Max, d.Risk.CleanupThreshold)
	return b.String()
}

func code(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + s + "`"
}
