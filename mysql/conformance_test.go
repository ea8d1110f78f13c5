package mysql_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/golang-migrate/migrate/v4/database"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"

	"github.com/agui-go/sessionsec/internal/dialecttest"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/internal/testtopo"
	"github.com/agui-go/sessionsec/mysql"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// TestConformance runs the dialect contract's conformance suite on MySQL and MariaDB.
func TestConformance(t *testing.T) {
	for _, s := range testdb.Servers {
		if s.Dialect != "mysql" {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			dialecttest.Run(t, mysql.Dialect{}, dialecttest.Server(s), dialecttest.Options{
				ReadOnlySkip: "read_only and super_read_only are global on MySQL and MariaDB: setting them on the shared test " +
					"server would stop every other test's writes (a replica's read-only is covered by the topology tests)",
				Stock: func(ctx context.Context, _ *sql.DB, conn *sql.Conn, table string) (database.Driver, error) {
					return migratemysql.WithConnection(ctx, conn, &migratemysql.Config{MigrationsTable: table})
				},
				FilesPool: func(t testing.TB, db *dialecttest.DB) *sql.DB {
					p, err := sql.Open(db.Driver, db.DSN+"&multiStatements=true")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = p.Close() })
					return p
				},
			})
		})
	}
}

// TestConformanceGalera runs the lease lock's case across two nodes of the Galera cluster
// (scripts/topology.sh): the lock the library takes there, since a named lock is local to one node.
func TestConformanceGalera(t *testing.T) {
	g := testtopo.Galera(t)
	dialecttest.RunLease(t, mysql.Dialect{}, g.Nodes[0], g.Open(t, 1))
}
