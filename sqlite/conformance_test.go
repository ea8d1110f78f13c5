package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/golang-migrate/migrate/v4/database"
	msqlite "github.com/golang-migrate/migrate/v4/database/sqlite"

	"github.com/agui-go/sessionsec/internal/dialecttest"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/sqlite"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// TestConformance runs the dialect contract's conformance suite on SQLite (a file database, as testdb
// opens it: WAL, a busy timeout).
func TestConformance(t *testing.T) {
	for _, s := range testdb.Servers {
		if s.Dialect != "sqlite" {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			dialecttest.Run(t, sqlite.Dialect{}, dialecttest.Server(s), dialecttest.Options{ReadOnly: readOnly, Stock: stock})
		})
	}
}

// readOnly opens the database file again with query_only set on every connection.
func readOnly(t testing.TB, db *dialecttest.DB) *sql.DB {
	ro, err := sql.Open(db.Driver, db.DSN+"&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ro.Close() })
	return ro
}

// stock is golang-migrate's sqlite driver, which has only WithInstance: on the pool, as the stock CLI
// runs it (the suite never calls its Close, which would close db).
func stock(_ context.Context, db *sql.DB, _ *sql.Conn, table string) (database.Driver, error) {
	return msqlite.WithInstance(db, &msqlite.Config{MigrationsTable: table})
}
