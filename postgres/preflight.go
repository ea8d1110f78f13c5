package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// routineSignature is how a routine the migrations create looks in pg_proc: kind ("f"/"p") and
// "identity arguments -> return type" with argument modes removed.
type routineSignature struct{ kind, sig string }

// ourRoutines lists every routine the migrations create, by lower-case name.
var ourRoutines = map[string]routineSignature{
	"session_security_hash":        {"f", "p_session_id text, p_user_id text, p_created_epoch bigint -> text"},
	"backfillsessionsecurity":      {"p", "p_batch integer -> void"},
	"cleanupexpiredsecuresessions": {"p", " -> void"},
	"updatesessionriskscores":      {"p", " -> void"},
	"sessionsec_retire_table":      {"p", "p_table text -> void"},
	insertTriggerFunction:          {"f", " -> trigger"},
	updateTriggerFunction:          {"f", " -> trigger"},
}

func normalizeSignature(sig string) string {
	args, ret, _ := strings.Cut(sig, " -> ")
	parts := strings.Split(args, ", ")
	for i, p := range parts {
		parts[i] = strings.TrimPrefix(p, "IN ")
	}
	return strings.Join(parts, ", ") + " -> " + ret
}

func isTextType(t string) bool {
	return t == "text" || strings.HasPrefix(t, "character varying") || strings.HasPrefix(t, "character(") ||
		t == "character" || t == "name"
}

func isTimestampType(t string) bool {
	return strings.HasPrefix(t, "timestamp")
}

// Preflight reports what would stop the migration: read-only server or standby, missing privileges
// (CREATE on the schema; ownership of sessions, which ALTER TABLE / CREATE INDEX need in PostgreSQL;
// TRIGGER on sessions), an existing sessions table the triggers cannot work with, and objects that carry
// one of our names with another definition. It changes nothing and runs a fixed number of queries (two,
// plus a snapshot when snap is nil).
func (d *Dialect) Preflight(ctx context.Context, q dialect.Querier, s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	var out []dialect.Problem
	add := func(k dialect.Kind, obj, msg, fix string) {
		out = append(out, dialect.Problem{Kind: k, Object: obj, Message: msg, Fix: fix})
	}
	if snap == nil {
		var err error
		if snap, err = d.Snapshot(ctx, q, TableNames(s)); err != nil {
			add(dialect.KindOther, "catalog", err.Error(), "check the connection and the search_path")
			return out
		}
	}

	// Server state and privileges.
	var (
		inRecovery, defaultRO, txRO             bool
		user, schemaName, owner                 string
		canCreate, tableExists, isOwner, canTrg bool
	)
	err := q.QueryRowContext(ctx, queryPreflightState, s.Sessions).Scan(&inRecovery, &defaultRO, &txRO,
		&user, &schemaName, &canCreate, &tableExists, &owner, &isOwner, &canTrg)
	if err != nil {
		add(dialect.KindOther, "server", "reading server state and privileges failed: "+err.Error(),
			"check the connection and the search_path")
		return out
	}
	if inRecovery {
		add(dialect.KindReadOnly, "server", "the server is a standby (pg_is_in_recovery() is true)",
			"connect to the primary server")
	}
	if defaultRO || txRO {
		add(dialect.KindReadOnly, "session",
			fmt.Sprintf("the session is read-only (default_transaction_read_only=%v, transaction_read_only=%v)", defaultRO, txRO),
			"connect with a read-write session (SET default_transaction_read_only = off, or use the primary)")
	}
	if !canCreate {
		add(dialect.KindPrivileges, "schema "+schemaName,
			fmt.Sprintf("user %s lacks CREATE on schema %s (needed for functions, procedures and tables)", user, schemaName),
			fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s", quoteIdent(schemaName), quoteIdent(user)))
	}
	if tableExists {
		if !isOwner {
			add(dialect.KindPrivileges, "table "+s.Sessions,
				fmt.Sprintf("user %s does not own %s (owner: %s); ALTER TABLE and CREATE INDEX need ownership in PostgreSQL", user, s.Sessions, owner),
				fmt.Sprintf("run the migration as %s, or GRANT %s TO %s", owner, quoteIdent(owner), quoteIdent(user)))
		}
		if !canTrg {
			add(dialect.KindPrivileges, "table "+s.Sessions,
				fmt.Sprintf("user %s lacks the TRIGGER privilege on %s", user, s.Sessions),
				fmt.Sprintf("GRANT TRIGGER ON %s TO %s", quoteIdent(s.Sessions), quoteIdent(user)))
		}
	}

	out = append(out, d.checkSessionsTable(s, snap)...)
	out = append(out, d.checkConflicts(ctx, q, s, snap)...)
	return out
}

// TableNames lists the tables Snapshot should read for s: sessions and the tables the migrations create.
func TableNames(s schema.Schema) []string {
	names := []string{s.Sessions}
	for _, t := range s.Tables {
		names = append(names, t.Name)
	}
	return names
}

func columnNames(t *dialect.Table) []string {
	var names []string
	for _, c := range t.Columns {
		names = append(names, c.Name)
	}
	return names
}

// checkSessionsTable checks an existing sessions table against what the triggers and routines need.
func (*Dialect) checkSessionsTable(s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	t := snap.Tables[s.Sessions]
	if t == nil {
		return nil
	}
	var out []dialect.Problem
	obj := "table " + s.Sessions
	var missing []string
	for _, c := range s.BaseColumns {
		if t.Column(c.Name) == nil {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		found := columnNames(t)
		msg := fmt.Sprintf("%s exists but lacks column(s) %s that the triggers and procedures need; found columns: %s",
			s.Sessions, strings.Join(missing, ", "), strings.Join(found, ", "))
		fix := "add or rename the columns so that " + s.Sessions + " has " + strings.Join(baseNames(s), ", ")
		if slices.Contains(found, "id") && slices.Contains(found, "last_accessed") {
			msg += " (this looks like the AG-UI Go SDK session store layout: id / last_accessed)"
			fix += " (e.g. ALTER TABLE sessions RENAME COLUMN id TO session_id; RENAME COLUMN last_accessed TO last_accessed_at), or point the library at a table with the expected layout"
		}
		out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: obj, Message: msg, Fix: fix})
	}
	for _, c := range s.BaseColumns {
		col := t.Column(c.Name)
		if col == nil {
			continue
		}
		switch c.Type {
		case schema.TypeTimestamp:
			if !isTimestampType(col.Type) {
				out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + "." + c.Name,
					Message: fmt.Sprintf("%s.%s has type %s; the hash and the procedures need a timestamp", s.Sessions, c.Name, col.Type),
					Fix:     fmt.Sprintf("convert it: ALTER TABLE %s ALTER COLUMN %s TYPE timestamptz USING ...", s.Sessions, c.Name)})
			}
		case schema.TypeSessionID, schema.TypeUserID:
			if !isTextType(col.Type) {
				out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + "." + c.Name,
					Message: fmt.Sprintf("%s.%s has type %s; the security hash needs a character type", s.Sessions, c.Name, col.Type),
					Fix:     fmt.Sprintf("convert it to varchar(255) or text (ALTER TABLE %s ALTER COLUMN %s TYPE varchar(255))", s.Sessions, c.Name)})
			}
		}
	}
	if t.Column("session_id") != nil {
		unique := false
		for _, ix := range snap.Indexes {
			if ix.Table == s.Sessions && ix.Unique && ix.Valid && ix.Predicate == "" &&
				len(ix.Columns) == 1 && ix.Columns[0] == "session_id" {
				unique = true
			}
		}
		if !unique {
			out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + ".session_id",
				Message: s.Sessions + ".session_id is neither the primary key nor unique; the backfill walks it as a key",
				Fix:     "ALTER TABLE " + s.Sessions + " ADD PRIMARY KEY (session_id) (after removing duplicates)"})
		}
	}
	// Security columns that already exist with another type would be kept silently by ADD COLUMN IF NOT EXISTS.
	for _, c := range s.SecurityColumns {
		col := t.Column(c.Name)
		if col == nil {
			continue
		}
		if want := columnTypes[c.Type]; col.Type != want {
			out = append(out, dialect.Problem{Kind: dialect.KindConflictingObject, Object: "column " + s.Sessions + "." + c.Name,
				Message: fmt.Sprintf("%s.%s already exists with type %s, not %s", s.Sessions, c.Name, col.Type, want),
				Fix:     "rename or drop the existing column before migrating"})
		}
	}
	return out
}

func baseNames(s schema.Schema) []string {
	var n []string
	for _, c := range s.BaseColumns {
		n = append(n, c.Name)
	}
	return n
}

// checkConflicts finds objects with our names but another definition.
func (d *Dialect) checkConflicts(ctx context.Context, q dialect.Querier, s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	var out []dialect.Problem
	conflict := func(obj, msg, fix string) {
		out = append(out, dialect.Problem{Kind: dialect.KindConflictingObject, Object: obj, Message: msg, Fix: fix})
	}
	want := d.Expected(s)

	var indexNames, triggerNames, routineNames, tableNames []string
	for n := range want.Indexes {
		indexNames = append(indexNames, n)
	}
	for n := range want.Triggers {
		triggerNames = append(triggerNames, n)
	}
	for n := range ourRoutines {
		routineNames = append(routineNames, n)
	}
	for _, t := range s.Tables {
		tableNames = append(tableNames, t.Name)
	}
	slices.Sort(indexNames)
	slices.Sort(triggerNames)
	slices.Sort(routineNames)

	rows, err := q.QueryContext(ctx, queryPreflightNamed, textArray(indexNames), textArray(triggerNames),
		textArray(routineNames), textArray(tableNames))
	if err != nil {
		return []dialect.Problem{{Kind: dialect.KindOther, Object: "catalog", Message: "reading named objects failed: " + err.Error(),
			Fix: "check the connection and the search_path"}}
	}
	defer rows.Close()
	for rows.Next() {
		var kind, name, on, def string
		if err := rows.Scan(&kind, &name, &on, &def); err != nil {
			return append(out, dialect.Problem{Kind: dialect.KindOther, Object: "catalog", Message: err.Error()})
		}
		switch kind {
		case "index":
			w := want.Indexes[name]
			if on != w.Table {
				conflict("index "+name, fmt.Sprintf("an index named %s exists on table %s (index names are per schema)", name, on),
					fmt.Sprintf("rename it: ALTER INDEX %s RENAME TO ...", quoteIdent(name)))
				continue
			}
			g := snap.Indexes[name]
			if g == nil {
				continue
			}
			if !slices.Equal(g.Columns, w.Columns) || g.Predicate != w.Predicate || g.Unique != w.Unique {
				conflict("index "+name,
					fmt.Sprintf("index %s on %s has columns (%s)%s%s, expected (%s)%s", name, on,
						strings.Join(g.Columns, ", "), whereText(g.Predicate), uniqueText(g.Unique),
						strings.Join(w.Columns, ", "), whereText(w.Predicate)),
					fmt.Sprintf("rename or drop it (CREATE INDEX IF NOT EXISTS would keep it): DROP INDEX CONCURRENTLY %s", quoteIdent(name)))
			}
		case "trigger":
			w := want.Triggers[name]
			if on != w.Table {
				conflict("trigger "+name, fmt.Sprintf("a trigger named %s exists on table %s", name, on),
					fmt.Sprintf("rename it: ALTER TRIGGER %s ON %s RENAME TO ...", quoteIdent(name), quoteIdent(on)))
				continue
			}
			g := snap.Triggers[name]
			if g == nil {
				continue
			}
			body := strings.ToLower(def)
			ok := strings.EqualFold(g.Timing, w.Timing) && strings.EqualFold(g.Event, w.Event)
			for _, frag := range w.BodyContains {
				ok = ok && strings.Contains(body, frag)
			}
			if !ok {
				conflict("trigger "+name,
					fmt.Sprintf("trigger %s on %s is not ours (%s); the migration would replace it", name, on, def),
					fmt.Sprintf("rename your trigger: ALTER TRIGGER %s ON %s RENAME TO ...", quoteIdent(name), quoteIdent(on)))
			}
		case "routine":
			w := ourRoutines[name]
			if on != w.kind || normalizeSignature(def) != w.sig {
				conflict("routine "+name,
					fmt.Sprintf("%s %s(%s) exists and differs from ours (%s(%s))", kindText(on), name, def, kindText(w.kind), w.sig),
					fmt.Sprintf("rename or drop it: DROP %s %s(...)", strings.ToUpper(kindText(on)), name))
			}
		case "relation":
			conflict("table "+name, fmt.Sprintf("%s exists but is not a table (relkind %s)", name, on),
				"rename or drop it")
		}
	}
	if err := rows.Err(); err != nil {
		out = append(out, dialect.Problem{Kind: dialect.KindOther, Object: "catalog", Message: err.Error()})
	}

	// Tables the migrations create that already exist with another shape.
	sessions := snap.Tables[s.Sessions]
	for _, t := range s.Tables {
		g := snap.Tables[t.Name]
		if g == nil {
			continue
		}
		if t.MirrorsSessions {
			if sessions != nil && !sameColumns(g, sessions) {
				conflict("table "+t.Name, fmt.Sprintf("%s exists but its columns (%s) do not mirror %s (%s)",
					t.Name, columnSig(g), s.Sessions, columnSig(sessions)),
					"rename the existing table, or align its columns with "+s.Sessions)
			}
			continue
		}
		for _, wc := range want.Tables[t.Name].Columns {
			gc := g.Column(wc.Name)
			if gc == nil || gc.Type != wc.Type {
				got := "missing"
				if gc != nil {
					got = gc.Type
				}
				conflict("table "+t.Name, fmt.Sprintf("%s exists but column %s is %s, expected %s", t.Name, wc.Name, got, wc.Type),
					"rename the existing table (ALTER TABLE "+quoteIdent(t.Name)+" RENAME TO ...)")
				break
			}
		}
	}
	// The risk-range constraint.
	if w, g := want.Checks[s.Risk.ConstraintName], snap.Checks[s.Risk.ConstraintName]; w != nil && g != nil &&
		(g.Table != w.Table || g.Expr != w.Expr) {
		conflict("constraint "+w.Name, fmt.Sprintf("constraint %s on %s is CHECK (%s), expected CHECK (%s)", w.Name, g.Table, g.Expr, w.Expr),
			fmt.Sprintf("drop or rename it: ALTER TABLE %s DROP CONSTRAINT %s", quoteIdent(g.Table), quoteIdent(w.Name)))
	}
	return out
}

func whereText(p string) string {
	if p == "" {
		return ""
	}
	return " WHERE " + p
}

func uniqueText(u bool) string {
	if u {
		return " UNIQUE"
	}
	return ""
}

func kindText(k string) string {
	if k == "p" {
		return "procedure"
	}
	return "function"
}

func sameColumns(a, b *dialect.Table) bool {
	return columnSig(a) == columnSig(b)
}

func columnSig(t *dialect.Table) string {
	var parts []string
	for _, c := range t.Columns {
		parts = append(parts, c.Name+" "+c.Type)
	}
	return strings.Join(parts, ", ")
}
