package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"

	"github.com/golang-migrate/migrate/v4/database"
	mpg "github.com/golang-migrate/migrate/v4/database/postgres"

	"github.com/agui-go/sessionsec/internal/dialecttest"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/internal/testtopo"
	"github.com/agui-go/sessionsec/postgres"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// TestConformance runs the dialect contract's conformance suite on PostgreSQL.
func TestConformance(t *testing.T) {
	for _, s := range testdb.Servers {
		if s.Dialect != "postgres" {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			dialecttest.Run(t, postgres.Dialect{}, dialecttest.Server(s), dialecttest.Options{ReadOnly: readOnly, Stock: stock})
		})
	}
}

// readOnly opens a pool on the database whose sessions start read-only (default_transaction_read_only,
// a run-time parameter lib/pq passes to the server), as a read-only role's connections would.
func readOnly(t testing.TB, db *dialecttest.DB) *sql.DB {
	u, err := url.Parse(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	ro, err := sql.Open(db.Driver, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ro.Close() })
	return ro
}

// stock is golang-migrate's postgres driver on conn, with the stock CLI's DatabaseName
// ("/"+current_database(), which its advisory-lock key is computed from).
func stock(ctx context.Context, _ *sql.DB, conn *sql.Conn, table string) (database.Driver, error) {
	var name string
	if err := conn.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		return nil, err
	}
	return mpg.WithConnection(ctx, conn, &mpg.Config{MigrationsTable: table, DatabaseName: "/" + name})
}

// TestConformancePgBouncer runs the lease lock's case through PgBouncer in transaction pooling
// (scripts/topology.sh), with lib/pq on one side and pgx on the other: the lock the library takes there,
// since a session advisory lock would stay on whichever server connection the pooler gave.
func TestConformancePgBouncer(t *testing.T) {
	p := testtopo.PgBouncer(t)
	dialecttest.RunLease(t, postgres.Dialect{}, p.Open(t, "postgres"), p.Open(t, "pgx"))
}
