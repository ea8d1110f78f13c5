// Package migrations holds the session-security migrations as golang-migrate files, one folder per
// dialect (mysql, postgres, sqlite), embedded into the binary.
//
// The same folders work with the stock golang-migrate CLI:
//
//	migrate -path migrations/mysql -database 'mysql://user:pass@tcp(host:3306)/app' up
//
// and, embedded, as a golang-migrate source for programs that run their own pipeline:
//
//	src, err := migrations.Source("postgres")
//	m, err := migrate.NewWithSourceInstance("iofs", src, "postgres://...")
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// FS holds every dialect folder: mysql/, postgres/, sqlite/.
//
//go:embed mysql/*.sql postgres/*.sql sqlite/*.sql
var FS embed.FS

// Dialects lists the folders of FS, one per supported dialect.
var Dialects = []string{"mysql", "postgres", "sqlite"}

// Dir returns the migration files of one dialect ("mysql" covers MySQL and MariaDB).
func Dir(dialect string) (fs.FS, error) {
	for _, d := range Dialects {
		if d == dialect {
			return fs.Sub(FS, d)
		}
	}
	return nil, fmt.Errorf("migrations: no migrations for dialect %q (have %v)", dialect, Dialects)
}

// Source returns the migrations of one dialect as a golang-migrate source driver.
func Source(dialect string) (source.Driver, error) {
	if _, err := Dir(dialect); err != nil {
		return nil, err
	}
	return iofs.New(FS, dialect)
}
