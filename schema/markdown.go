package schema

import (
	"fmt"
	"strings"
)

var typeNames = map[Type]string{
	TypeSessionID: "session id", TypeUserID: "user id", TypeTimestamp: "timestamp", TypeHash: "SHA-256 hex (64)",
	TypeKeyID: "key id (128)", TypeVersion: "integer", TypeRiskScore: "small integer", TypeAuditID: "auto id",
	TypeAction: "text (64)", TypeDetails: "JSON",
}

var defaultNames = map[Default]string{NoDefault: "", DefaultOne: "1", DefaultZero: "0", DefaultNow: "now"}

func (p *Predicate) String() string {
	if p == nil {
		return ""
	}
	if p.Op == GreaterThan0 {
		return p.Column + " > 0"
	}
	return p.Column + " IS NOT NULL"
}

// Markdown renders the schema as the tables the README shows. README_test checks that README.md contains
// exactly this text, so the documentation cannot drift from what Validate checks.
func (s Schema) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Columns added to `%s`:\n\n| column | type | null | default | comment |\n|---|---|---|---|---|\n", s.Sessions)
	for _, c := range s.SecurityColumns {
		null := "NOT NULL"
		if c.Nullable {
			null = "NULL"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.Name, typeNames[c.Type], null, defaultNames[c.Default], c.Comment)
	}
	fmt.Fprintf(&b, "\nIndexes on `%s` (all non-unique; partial where the dialect has partial indexes - PostgreSQL, SQLite):\n\n| index | columns | partial predicate |\n|---|---|---|\n", s.Sessions)
	for _, i := range s.Indexes {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", i.Name, strings.Join(i.Columns, ", "), i.Partial.String())
	}
	b.WriteString("\nTriggers:\n\n| trigger | table | fires |\n|---|---|---|\n")
	for _, t := range s.Triggers {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s %s |\n", t.Name, t.Table, t.Timing, t.Event)
	}
	b.WriteString("\nRoutines (MySQL/MariaDB and PostgreSQL; SQLite gets Go functions instead):\n\n| routine | kind |\n|---|---|\n")
	for _, r := range s.Routines {
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Name, strings.ToLower(string(r.Kind)))
	}
	b.WriteString("\nTables:\n\n")
	for _, t := range s.Tables {
		if t.MirrorsSessions {
			fmt.Fprintf(&b, "- `%s`: the same columns as `%s`, in the same order (`INSERT INTO %s SELECT * FROM %s` works).\n", t.Name, s.Sessions, t.Name, s.Sessions)
			continue
		}
		cols := make([]string, 0, len(t.Columns))
		for _, c := range t.Columns {
			cols = append(cols, "`"+c.Name+"`")
		}
		idx := make([]string, 0, len(t.Indexes))
		for _, i := range t.Indexes {
			idx = append(idx, "`"+i.Name+"`")
		}
		fmt.Fprintf(&b, "- `%s`: %s; indexes %s.\n", t.Name, strings.Join(cols, ", "), strings.Join(idx, ", "))
	}
	fmt.Fprintf(&b, "\n`%s` is enforced between %d and %d on every write; `CleanupExpiredSecureSessions` deletes sessions above %d.\n",
		s.Risk.Column, s.Risk.Min, s.Risk.Max, s.Risk.CleanupThreshold)
	return b.String()
}
