// Package postgres is the PostgreSQL dialect of sessionsec. Importing it registers the dialect for
// lib/pq and pgx/v5 stdlib connections:
//
//	import _ "github.com/agui-go/sessionsec/postgres"
//
// It holds the catalog queries (inspect.go), the SQL of every step rendered from the declaration
// (render.go, routines.go), golang-migrate's advisory-lock key (lock.go), error classes (errors.go)
// and the PostgreSQL-only preflight rules (preflight.go). Every function, procedure and trigger function
// it creates is bound to the schema it is created in, whatever search_path its caller has.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Dialect implements dialect.Dialect for PostgreSQL.
type Dialect struct{}

// The contract, and the optional capabilities this dialect has (internal/dialect/capability.go).
var (
	_ dialect.Dialect         = Dialect{}
	_ dialect.LeftoverCleaner = Dialect{}
	_ dialect.Drifter         = Dialect{}
	_ dialect.Planner         = Dialect{}
	_ dialect.Backfiller      = Dialect{}
	_ dialect.Maintainer      = Dialect{}
	_ dialect.BatchStarter    = Dialect{}
	_ dialect.RowLocker       = Dialect{}
	_ dialect.TxSettings      = Dialect{}
	_ dialect.Replication     = Dialect{}
	_ dialect.Leaser          = Dialect{}
	_ dialect.SealReader      = Dialect{}
)

func init() {
	dialect.Register(dialect.Registration{
		Dialect: Dialect{},
		Drivers: []string{"*pq.Driver", "*stdlib.Driver"},
		Import:  "github.com/agui-go/sessionsec/postgres",
	})
}

// Name is the dialect name and the folder of its migrations.
func (Dialect) Name() string { return "postgres" }

// minVersionNum is PostgreSQL 12: procedures with transaction control (PG 11) and EXECUTE FUNCTION
// triggers.
const minVersionNum = 120000

// Caps is what the identified server can do, read once by Identify.
type Caps struct {
	num          int
	quotedSchema string // quote_ident(current_schema()), as the files bind objects at run time
}

func capsOf(srv dialect.Server) Caps {
	c, _ := srv.Caps.(Caps)
	return c
}

// CreateOrReplaceTrigger reports CREATE OR REPLACE TRIGGER (PostgreSQL 14); the files use DROP and
// CREATE in one transaction instead, which every supported version has.
func (c Caps) CreateOrReplaceTrigger() bool { return c.num >= 140000 }

// Identify reads version and current schema and rejects servers older than PostgreSQL 12.
func (Dialect) Identify(ctx context.Context, q dialect.Querier) (dialect.Server, error) {
	var (
		v            string
		num          int
		schema, qsch sql.NullString
	)
	if err := q.QueryRowContext(ctx, queryIdentify).Scan(&v, &num, &schema, &qsch); err != nil {
		return dialect.Server{}, fmt.Errorf("postgres: identify server: %w", err)
	}
	srv := dialect.Server{Flavor: "PostgreSQL", Version: v, Schema: schema.String, Caps: Caps{num: num, quotedSchema: qsch.String}}
	if num < minVersionNum {
		return srv, &dialect.ProblemError{Problem: dialect.Problem{
			Kind:    dialect.KindUnsupportedServer,
			Object:  "server",
			Message: fmt.Sprintf("PostgreSQL %s is older than the supported 12", v),
			Fix:     "upgrade to PostgreSQL 12 or later (needed: procedures with transaction control, EXECUTE FUNCTION triggers)",
		}}
	}
	if !schema.Valid {
		return srv, &dialect.ProblemError{Problem: dialect.Problem{
			Kind:    dialect.KindOther,
			Object:  "search_path",
			Message: "no current schema: current_schema() is NULL (search_path names no existing schema)",
			Fix:     "set search_path to the schema that holds (or will hold) the session table",
		}}
	}
	return srv, nil
}

// PrepareSession sets a session-level lock_timeout on conn, so that DDL waiting behind a long
// transaction gives up (SQLSTATE 55P03) instead of queueing every later query on the table, and lifts
// any statement_timeout of the role: an index build on a big table takes as long as it takes.
func (Dialect) PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	ms := max(lockWait.Milliseconds(), 1)
	for _, stmt := range []string{fmt.Sprintf(stmtLockTimeout, ms), stmtStatementTimeout} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: preparing the session: %w", err)
		}
	}
	return nil
}

// ReadVersion reads golang-migrate's table in current_schema() without any lock.
func (Dialect) ReadVersion(ctx context.Context, q dialect.Querier, table string) (dialect.VersionState, error) {
	var st dialect.VersionState
	var schema sql.NullString
	if err := q.QueryRowContext(ctx, queryMigrationsTableExists, table).Scan(&st.TableExists, &schema); err != nil {
		return st, fmt.Errorf("postgres: look for migrations table %q: %w", table, err)
	}
	if !st.TableExists {
		return st, nil
	}
	var v int64
	var dirty bool
	err := q.QueryRowContext(ctx, "SELECT version, dirty FROM "+quote(schema.String)+"."+quote(table)+" LIMIT 1").Scan(&v, &dirty)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("postgres: read migrations table %q: %w", table, err)
	}
	if v >= 0 {
		st.Version, st.HasVersion = uint(v), true
	}
	st.Dirty = dirty
	return st, nil
}
