package sessionsec

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/mysql"
	"github.com/agui-go/sessionsec/postgres"
	"github.com/agui-go/sessionsec/sqlite"
)

var dialects = map[string]dialect.Dialect{
	"mysql":    mysql.New(),
	"postgres": postgres.New(),
	"sqlite":   sqlite.New(),
}

// driverDialects maps the concrete type of a database/sql driver to its dialect. Matching on the type
// name keeps this package from forcing any particular driver version on its users.
var driverDialects = map[string]string{
	"*mysql.MySQLDriver": "mysql",    // github.com/go-sql-driver/mysql
	"*pq.Driver":         "postgres", // github.com/lib/pq
	"*stdlib.Driver":     "postgres", // github.com/jackc/pgx/v5/stdlib
	"*sqlite.Driver":     "sqlite",   // modernc.org/sqlite
}

func dialectNames() string {
	names := make([]string, 0, len(dialects))
	for n := range dialects {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// target is a resolved call: the database, its dialect and the options.
type target struct {
	db  *sql.DB
	d   dialect.Dialect
	cfg *config
}

// resolve validates options and the database handle, picks the dialect and pings the server.
func resolve(ctx context.Context, db *sql.DB, opts []Option) (*target, error) {
	t, err := resolveNoPing(db, opts)
	if err != nil {
		return nil, err
	}
	return t, t.ping(ctx)
}

// resolveNoPing is resolve without the round trip, for Migrate's fast path: an up-to-date replica's
// start-up costs one version read and nothing else.
func resolveNoPing(db *sql.DB, opts []Option) (*target, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("%w: the *sql.DB is nil", ErrNoDatabase)
	}
	name := cfg.dialect
	if name == "" {
		drv := fmt.Sprintf("%T", db.Driver())
		var ok bool
		if name, ok = driverDialects[drv]; !ok {
			return nil, fmt.Errorf("%w: %s is not a known driver (known: go-sql-driver/mysql, lib/pq, pgx/v5 stdlib, modernc sqlite); if it wraps one of them, pass WithDialect(%s)",
				ErrUnsupportedDriver, drv, dialectNames())
		}
	}
	return &target{db: db, d: dialects[name], cfg: cfg}, nil
}

// ping tells a closed pool or an unreachable server (ErrNoDatabase) from everything else.
func (t *target) ping(ctx context.Context) error {
	if err := t.db.PingContext(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v (check that the *sql.DB is open, the server is up and the credentials are right)", ErrNoDatabase, err)
	}
	return nil
}
