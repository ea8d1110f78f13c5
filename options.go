package sessionsec

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Option configures Migrate, Rollback, Status, Preflight and Validate. Options are checked when the call
// starts; a bad option fails the call with an error matching ErrInvalidOption before anything is touched.
type Option func(*config) error

type config struct {
	dialect      string
	table        string
	logger       *slog.Logger
	lockWait     time.Duration // per-statement bound on waiting for table locks
	retries      int           // DDL retries after a lock-wait timeout
	backoff      time.Duration // first retry delay; doubles, capped at maxBackoff
	allowAhead   bool
	pollInterval time.Duration // lock polling interval cap
	expectAbsent bool          // Validate: confirm a complete rollback
	stepHook     func(version uint, phase string)
}

const maxBackoff = 10 * time.Second

// identifierPattern is what a configurable identifier may look like: it is quoted, never interpolated raw.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func newConfig(opts []Option) (*config, error) {
	c := &config{
		table:        "schema_migrations",
		logger:       slog.Default(),
		lockWait:     5 * time.Second,
		retries:      10,
		backoff:      250 * time.Millisecond,
		pollInterval: time.Second,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// WithDialect overrides the dialect detected from the *sql.DB's driver: "mysql" (MySQL and MariaDB),
// "postgres" or "sqlite". Use it when the driver is wrapped (by tracing, for instance) and cannot be recognized.
func WithDialect(name string) Option {
	return func(c *config) error {
		if _, ok := dialects[name]; !ok {
			return invalid("unknown dialect %q (want one of %s)", name, dialectNames())
		}
		c.dialect = name
		return nil
	}
}

// WithMigrationsTable sets the golang-migrate version table (default "schema_migrations", the CLI's
// default). The name must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$; the CLI needs the same name through
// x-migrations-table, and both derive their lock from it.
func WithMigrationsTable(name string) Option {
	return func(c *config) error {
		if !identifierPattern.MatchString(name) {
			return invalid("migrations table %q must match %s", name, identifierPattern)
		}
		c.table = name
		return nil
	}
}

// WithLogger sets the structured logger (default slog.Default()). Logs never contain SQL text or credentials.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return invalid("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithLockWait bounds how long one DDL statement waits for a table lock (MySQL lock_wait_timeout,
// PostgreSQL lock_timeout; default 5s). A migration that queues behind a long transaction would otherwise
// block every later query on the table; with the bound it gives up, backs off and retries (WithRetries).
func WithLockWait(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Second || d > time.Hour {
			return invalid("lock wait %v must be between 1s and 1h", d)
		}
		c.lockWait = d
		return nil
	}
}

// WithRetries sets how many times a step that hit the lock-wait bound is retried (default 10), with an
// exponential backoff starting at backoff (default 250ms, capped at 10s). Then the step fails with a
// *StepError matching ErrLockWait.
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *config) error {
		if n < 0 || n > 1000 {
			return invalid("retries %d must be between 0 and 1000", n)
		}
		if backoff <= 0 || backoff > maxBackoff {
			return invalid("backoff %v must be in (0, %v]", backoff, maxBackoff)
		}
		c.retries, c.backoff = n, backoff
		return nil
	}
}

// WithAllowDatabaseAhead lets Migrate return nil (and log a warning) when the database carries a newer
// version of this migration set than the binary knows, as during a rolling deploy where newer replicas
// migrated first. Without it Migrate returns an error matching ErrDatabaseAhead.
func WithAllowDatabaseAhead() Option {
	return func(c *config) error { c.allowAhead = true; return nil }
}

// ExpectRolledBack makes Validate confirm a complete rollback: nothing of the change may be left except the
// sessions table with its own columns and the retired copies of history tables.
func ExpectRolledBack() Option {
	return func(c *config) error { c.expectAbsent = true; return nil }
}

// withStepHook is for the fault-injection tests: it runs before ("before") and after ("after") each step.
func withStepHook(f func(version uint, phase string)) Option {
	return func(c *config) error { c.stepHook = f; return nil }
}
