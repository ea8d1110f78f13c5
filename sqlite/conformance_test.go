package sqlite_test

import (
	"database/sql"
	"os"
	"testing"

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
			dialecttest.Run(t, sqlite.Dialect{}, dialecttest.Server(s), dialecttest.Options{ReadOnly: readOnly})
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
