package postgres

import (
	"context"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Preflight reports what would stop the pending steps on PostgreSQL: a standby or read-only session,
// missing privileges (CREATE on the schema; ownership of the session table, which ALTER TABLE and
// CREATE INDEX need; TRIGGER on it), and a BEFORE INSERT trigger of the application's that fires after
// the hash trigger (triggers fire in name order), which would change the row after it was hashed. It
// changes nothing and runs one query.
func (d Dialect) Preflight(ctx context.Context, q dialect.Querier, srv dialect.Server, t dialect.Target, cat *dialect.Catalog, pending []schema.Step) []dialect.Problem {
	var out []dialect.Problem
	add := func(k dialect.Kind, obj, msg, fix string) {
		out = append(out, dialect.Problem{Kind: k, Object: obj, Message: msg, Fix: fix})
	}
	n := t.Names
	var (
		inRecovery, defaultRO, txRO             bool
		user, schemaName, owner                 string
		canCreate, tableExists, isOwner, canTrg bool
	)
	err := q.QueryRowContext(ctx, queryPreflightState, n.Table).Scan(&inRecovery, &defaultRO, &txRO,
		&user, &schemaName, &canCreate, &tableExists, &owner, &isOwner, &canTrg)
	if err != nil {
		add(dialect.KindOther, "server", "reading server state and privileges failed: "+d.Scrub(err), "check the connection and the search_path")
		return out
	}
	if inRecovery {
		add(dialect.KindReadOnly, "server", "the server is a standby (pg_is_in_recovery() is true)", "connect to the primary server")
	}
	if defaultRO || txRO {
		add(dialect.KindReadOnly, "session",
			fmt.Sprintf("the session is read-only (default_transaction_read_only=%v, transaction_read_only=%v)", defaultRO, txRO),
			"connect with a read-write session (SET default_transaction_read_only = off, or use the primary)")
	}
	if !canCreate {
		add(dialect.KindPrivileges, "schema "+schemaName,
			fmt.Sprintf("user %s lacks CREATE on schema %s (needed for functions, procedures and tables)", user, schemaName),
			fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s", quote(schemaName), quote(user)))
	}
	if tableExists {
		if !isOwner {
			add(dialect.KindPrivileges, "table "+n.Table,
				fmt.Sprintf("user %s does not own %s (owner: %s); ALTER TABLE and CREATE INDEX need ownership in PostgreSQL", user, n.Table, owner),
				fmt.Sprintf("run the migration as %s, or GRANT %s TO %s", owner, quote(owner), quote(user)))
		}
		if !canTrg {
			add(dialect.KindPrivileges, "table "+n.Table, fmt.Sprintf("user %s lacks the TRIGGER privilege on %s", user, n.Table),
				fmt.Sprintf("GRANT TRIGGER ON %s TO %s", quote(n.Table), quote(user)))
		}
	}
	out = append(out, d.Drift(t, cat)...)
	return out
}

// LateTriggers lists the application's BEFORE INSERT row triggers on the session table that fire after
// the hash trigger.
func LateTriggers(t dialect.Target, cat *dialect.Catalog) []string {
	n := t.Names
	var out []string
	for _, tg := range cat.Triggers {
		if tg.Table == n.Table && tg.Name > n.InsertTrigger && tg.Row && tg.Timing == "BEFORE" &&
			(tg.Event == "INSERT" || len(tg.Event) > 6 && tg.Event[:6] == "INSERT") {
			out = append(out, tg.Name)
		}
	}
	return out
}

// Drift reports application BEFORE INSERT triggers that fire after the hash trigger.
func (Dialect) Drift(t dialect.Target, cat *dialect.Catalog) []dialect.Problem {
	var out []dialect.Problem
	for _, p := range LateTriggers(t, cat) {
		out = append(out, lateTrigger(t, p))
	}
	return out
}

func lateTrigger(t dialect.Target, p string) dialect.Problem {
	n := t.Names
	return dialect.Problem{Kind: dialect.KindConflictingObject, Object: "trigger " + p,
		Message: fmt.Sprintf("a BEFORE INSERT row trigger on %s that fires after %s (PostgreSQL fires triggers in name order): a change it makes to the row would not be in the stored hash", n.Table, n.InsertTrigger),
		Fix:     fmt.Sprintf("rename it to sort before %s, e.g. ALTER TRIGGER %s ON %s RENAME TO %s", n.InsertTrigger, quote(p), quote(n.Table), quote("a_"+p))}
}
