// Package migrations holds the session-security change as golang-migrate folders, generated from the
// declaration in package schema (a test fails when a committed folder is stale), and embeds them.
//
//	migrations/{mysql,postgres,sqlite}        the spec layout (session_id, last_accessed_at, ...) on "sessions"
//	migrations/agui/{mysql,postgres,sqlite}   the AG-UI Go SDK store's layout (id, last_accessed, ip_address, is_active)
//
// The MySQL and PostgreSQL folders work with the stock golang-migrate CLI; give it this change's own
// version table:
//
//	migrate -path migrations/mysql -database 'mysql://user:pass@tcp(host:3306)/app?x-migrations-table=sessionsec_schema_migrations' up
//
// The SQLite folders need the Go functions package sessionsec/sqlite registers, so they run through the
// library. Programs that run their own pipeline can use the embedded files as a golang-migrate source:
//
//	src, err := migrations.Source("agui", "postgres")
//	m, err := migrate.NewWithSourceInstance("iofs", src, "postgres://...&x-migrations-table=sessionsec_schema_migrations")
//
// For another table name or column mapping, `sessionsec generate` writes a folder.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// FS holds every folder.
//
//go:embed mysql/*.sql postgres/*.sql sqlite/*.sql agui/mysql/*.sql agui/postgres/*.sql agui/sqlite/*.sql
var FS embed.FS

// Layouts are the layouts with committed folders; Dialects the dialects of each.
var (
	Layouts  = []string{"spec", "agui"}
	Dialects = []string{"mysql", "postgres", "sqlite"}
)

// Path is the folder of a layout and dialect inside FS (and inside the repository's migrations/).
func Path(layout, dialect string) (string, error) {
	if !slices.Contains(Layouts, layout) || !slices.Contains(Dialects, dialect) {
		return "", fmt.Errorf("migrations: no folder for layout %q and dialect %q (layouts %v, dialects %v)", layout, dialect, Layouts, Dialects)
	}
	if layout == "spec" {
		return dialect, nil
	}
	return path.Join(layout, dialect), nil
}

// Dir returns the files of one folder.
func Dir(layout, dialect string) (fs.FS, error) {
	p, err := Path(layout, dialect)
	if err != nil {
		return nil, err
	}
	return fs.Sub(FS, p)
}

// Source returns one folder as a golang-migrate source driver.
func Source(layout, dialect string) (source.Driver, error) {
	p, err := Path(layout, dialect)
	if err != nil {
		return nil, err
	}
	return iofs.New(FS, p)
}
