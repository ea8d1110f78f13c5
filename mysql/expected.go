package mysql

import (
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// columnTypes maps each logical type to what information_schema.COLUMNS.COLUMN_TYPE reports after
// normalizeType. The only place the MySQL/MariaDB type names live.
var columnTypes = map[schema.Type]string{
	schema.TypeSessionID: "varchar(255)",
	schema.TypeUserID:    "varchar(255)",
	schema.TypeTimestamp: "datetime(6)",
	schema.TypeHash:      "char(64)", // CHARACTER SET ascii
	schema.TypeKeyID:     "varchar(128)",
	schema.TypeVersion:   "int",
	schema.TypeRiskScore: "smallint",
	schema.TypeAuditID:   "bigint",
	schema.TypeAction:    "varchar(64)",
	schema.TypeDetails:   "json", // MariaDB: LONGTEXT + CHECK (json_valid(...)), normalized to json
}

// ColumnType returns the concrete type of a logical type.
func ColumnType(t schema.Type) string { return columnTypes[t] }

func renderColumns(cols []schema.Column) []*dialect.Column {
	out := make([]*dialect.Column, 0, len(cols))
	for _, c := range cols {
		out = append(out, &dialect.Column{
			Name:     c.Name,
			Type:     columnTypes[c.Type],
			Nullable: c.Nullable,
			Default:  dialect.DefaultText(c.Default),
			Comment:  c.Comment,
		})
	}
	return out
}

func renderIndex(ix schema.Index) *dialect.Index {
	// MySQL has no partial indexes: the predicate is dropped, NULLs are indexed.
	return &dialect.Index{Table: ix.Table, Name: ix.Name, Columns: append([]string(nil), ix.Columns...), Valid: true}
}

// triggerFragments are the parts of each trigger body that prove the rules it enforces.
func triggerFragments(s schema.Schema, t schema.Trigger) []string {
	frags := []string{"NEW." + s.Risk.Column, "45000", "100"}
	switch t.Event {
	case schema.Insert:
		frags = append(frags, s.HashFunction+"(")
	case schema.Update:
		frags = append(frags, "<=>")
	}
	return frags
}

// Expected renders the logical schema into the form Snapshot reports.
func (*Dialect) Expected(s schema.Schema) *dialect.Snapshot {
	snap := dialect.NewSnapshot()
	cols := append(renderColumns(s.BaseColumns), renderColumns(s.SecurityColumns)...)
	snap.Tables[s.Sessions] = &dialect.Table{Name: s.Sessions, Columns: cols}
	for _, ix := range s.Indexes {
		snap.Indexes[ix.Name] = renderIndex(ix)
	}
	for _, t := range s.Tables {
		tc := t.Columns
		if t.MirrorsSessions {
			// The archive mirrors sessions (CREATE TABLE ... LIKE); the core checks the mirroring, the
			// rendering lists the security columns it must at least have.
			tc = s.SecurityColumns
		}
		snap.Tables[t.Name] = &dialect.Table{Name: t.Name, Columns: renderColumns(tc)}
		for _, ix := range t.Indexes {
			snap.Indexes[ix.Name] = renderIndex(ix)
		}
	}
	for _, t := range s.Triggers {
		snap.Triggers[t.Name] = &dialect.Trigger{
			Name:         t.Name,
			Table:        t.Table,
			Timing:       string(t.Timing), // MySQL triggers can change NEW: BEFORE stays BEFORE
			Event:        string(t.Event),
			BodyContains: triggerFragments(s, t),
		}
	}
	for _, r := range s.Routines {
		snap.Routines[strings.ToLower(r.Name)] = &dialect.Routine{Name: r.Name, Kind: string(r.Kind)}
	}
	return snap
}
