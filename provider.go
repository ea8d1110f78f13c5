package sessionsec

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Provider is one handle on one database: its dialect, the session table and the migrations table,
// resolved and checked once by New. Its methods are the whole API (the package-level functions of the
// same names mirror them for one-off calls). They are safe for concurrent use; each call works on a
// connection of its own and leaves nothing behind in db's pool.
type Provider struct {
	db  *sql.DB
	d   dialect.Dialect
	cfg config
}

// New checks the options and picks the dialect from db's driver (or WithDialect). It does not touch the
// database. The dialect's package must be imported, e.g.
//
//	import _ "github.com/agui-go/sessionsec/mysql"
func New(db *sql.DB, opts ...Option) (*Provider, error) {
	cfg, err := build(defaults(), opHandle, handleOnly(opts))
	if err != nil {
		return nil, err
	}
	if err := checkHandleOnly(opts); err != nil {
		return nil, err
	}
	return newProvider(db, cfg)
}

func newProvider(db *sql.DB, cfg config) (*Provider, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: the *sql.DB is nil", ErrNoDatabase)
	}
	var d dialect.Dialect
	if cfg.dialect != "" {
		d = dialect.MustLookup(cfg.dialect)
	} else {
		drv := fmt.Sprintf("%T", db.Driver())
		var hint string
		if d, hint = dialect.ForDriver(drv); d == nil {
			if hint != "" {
				return nil, fmt.Errorf("%w: the driver %s needs the dialect package: import _ %q", ErrUnsupportedDriver, drv, hint)
			}
			return nil, fmt.Errorf("%w: %s is not a driver a registered dialect serves (registered: %v); if it wraps one, pass WithDialect",
				ErrUnsupportedDriver, drv, dialect.Names())
		}
	}
	return &Provider{db: db, d: d, cfg: cfg}, nil
}

func handleOnly(opts []Option) []Option {
	var out []Option
	for _, o := range opts {
		if o.ops&opHandle != 0 {
			out = append(out, o)
		}
	}
	return out
}

func checkHandleOnly(opts []Option) error {
	for _, o := range opts {
		if o.apply != nil && o.ops&opHandle == 0 {
			return invalid("%s configures a call (%s), not the handle: pass it to that method", o.name, o.opsText())
		}
	}
	return nil
}

// callConfig is the configuration of one call of operation o with per-call options.
func (p *Provider) callConfig(o op, opts []Option) (config, error) {
	for _, opt := range opts {
		if opt.apply != nil && opt.ops&opHandle != 0 {
			return config{}, invalid("%s configures the handle: pass it to New", opt.name)
		}
	}
	cfg, err := build(p.cfg, o, opts)
	if err != nil {
		return cfg, err
	}
	return cfg, p.checkReplicas(cfg)
}

// on resolves a package-level call: the handle's options build the Provider (New), the others are
// returned for its method. The call's options are checked here too, before the database is looked at,
// so a package function fails on a bad option first, as the method on a Provider does.
func on(db *sql.DB, o op, opts []Option) (*Provider, []Option, error) {
	var call []Option
	for _, opt := range opts {
		if opt.ops&opHandle == 0 {
			call = append(call, opt)
		}
	}
	cfg, err := build(defaults(), opHandle, handleOnly(opts))
	if err != nil {
		return nil, nil, err
	}
	if _, err := build(cfg, o, call); err != nil {
		return nil, nil, err
	}
	p, err := newProvider(db, cfg)
	if err != nil {
		return nil, nil, err
	}
	return p, call, nil
}

// Migrate is [Provider.Migrate] on db, for the start-up snippet: opts may mix [New]'s options and the
// method's.
func Migrate(ctx context.Context, db *sql.DB, opts ...Option) error {
	p, call, err := on(db, opMigrate, opts)
	if err != nil {
		return err
	}
	return p.Migrate(ctx, call...)
}

// Migrate applies every pending session-security step to the handle's database.
//
// It is meant to run at server start-up in every replica at once: replicas with nothing pending return
// after reading the version table and the session table the change is on (two queries, no lock); the others wait for the migration lock
// (honouring ctx), and the first one runs Preflight and applies the steps while the rest find nothing
// left to do. Every step converges: it adopts the objects it finds in the declared form, replaces older
// definitions of its own, and creates what is missing, so a step interrupted by a crash is finished by
// the next call, and a table changed by the original hand-run script is completed. A running statement
// is not cancelled by ctx - a half-applied DDL is worse than a late start-up - but ctx is checked between
// steps and batches and while waiting for locks.
//
// The session table is "sessions" unless WithTable names another; Migrate records it (TargetTable) before
// the first step, and refuses with ErrWrongTable, changing nothing, a call for another table than the
// one the change is on - or, with no table named, a database without "sessions" whose session table of
// a known layout has another name (it never creates an empty "sessions" next to it).
//
// The dialect comes from the driver; the session table's layout from its columns. Migrate never closes
// the *sql.DB and leaves no session state in its pool: it works on one pinned connection that it discards.
func (p *Provider) Migrate(ctx context.Context, opts ...Option) error {
	cfg, err := p.callConfig(opMigrate, opts)
	if err != nil {
		return err
	}
	return p.migrate(ctx, cfg)
}

// Rollback is [Provider.Rollback] on db without its result.
//
// Deprecated: use New(db) and [Provider.Rollback], which also says what the rollback kept.
func Rollback(ctx context.Context, db *sql.DB, opts ...Option) error {
	p, call, err := on(db, opRollback, opts)
	if err != nil {
		return err
	}
	_, err = p.Rollback(ctx, call...)
	return err
}

// Rollback reverts the applied session-security steps: the emergency rollback of the runbook. Stop
// the application first. The session table and all its rows stay; history is kept, not dropped: a
// non-empty audit log or archive is renamed to <table>_retired_<UTC timestamp>, and the security
// columns' data is copied to <table>_security_retired_<UTC timestamp> before the columns go; the result
// names what was kept. It works from any state, a dirty one included: an interrupted step is finished
// in the direction it was going. A table the change is not on is refused up front with ErrWrongTable:
// no routine dropped, the version untouched. A complete rollback removes the record of the table
// (TargetTable).
func (p *Provider) Rollback(ctx context.Context, opts ...Option) (*RollbackResult, error) {
	cfg, err := p.callConfig(opRollback, opts)
	if err != nil {
		return nil, err
	}
	return p.rollback(ctx, cfg)
}

// Validate is [Provider.Validate] on db, for the start-up snippet: opts may mix [New]'s options and the
// method's.
func Validate(ctx context.Context, db *sql.DB, opts ...Option) (*Report, error) {
	p, call, err := on(db, opValidate, opts)
	if err != nil {
		return nil, err
	}
	return p.Validate(ctx, call...)
}

// Validate checks the database against what its applied version should have - every column of the
// change (by kind: an adopted VARCHAR(64) hash column is as good as our CHAR(64)), every index with its
// columns and partial predicate and validity, both triggers and every routine by their exact
// definitions, the audit log and the archive, the risk-score rule, and the version and dirty flag - in a
// fixed, small number of catalog queries (Report.Queries counts them). Its result does not depend on the
// session settings of the *sql.DB's pool (sql_mode, time zone, autocommit): it reads on a connection of
// its own. With ExpectRolledBack it confirms instead that nothing of the change is left.
//
// The report lists every problem; the error is a *ValidationError matching ErrValidation when there is
// any, or another error when the database could not be read.
func (p *Provider) Validate(ctx context.Context, opts ...Option) (*Report, error) {
	cfg, err := p.callConfig(opValidate, opts)
	if err != nil {
		return nil, err
	}
	return p.validateCall(ctx, cfg)
}

// Preflight is [Provider.Preflight] on db: opts may mix [New]'s options and the method's.
func Preflight(ctx context.Context, db *sql.DB, opts ...Option) error {
	p, call, err := on(db, opPreflight, opts)
	if err != nil {
		return err
	}
	return p.Preflight(ctx, call...)
}

// Preflight checks, without changing anything, whether Migrate can run the pending steps, and returns a
// *PreflightError listing every problem found (nil when there are none): an unsupported server, a
// session table of no known layout or unusable shape, objects that carry our names with other
// definitions, missing privileges, MySQL's binary-log rule (error 1419), a read-only server, and a
// migrations table that belongs to another migration set or to a newer binary. Migrate runs it first
// whenever it has work to do.
func (p *Provider) Preflight(ctx context.Context, opts ...Option) error {
	cfg, err := p.callConfig(opPreflight, opts)
	if err != nil {
		return err
	}
	return p.preflightCall(ctx, cfg)
}

// Status is [Provider.Status] on db: opts may mix [New]'s options and the method's.
func Status(ctx context.Context, db *sql.DB, opts ...Option) (*MigrationStatus, error) {
	p, call, err := on(db, opStatus, opts)
	if err != nil {
		return nil, err
	}
	return p.Status(ctx, call...)
}

// Status reads the migrations table (without taking the lock) and tells which steps are applied and
// which are pending. It creates nothing.
func (p *Provider) Status(ctx context.Context, opts ...Option) (*MigrationStatus, error) {
	cfg, err := p.callConfig(opStatus, opts)
	if err != nil {
		return nil, err
	}
	return p.status(ctx, cfg)
}

// Version is [Provider.Version] on db: opts may mix [New]'s options and the method's.
func Version(ctx context.Context, db *sql.DB, opts ...Option) (version uint, dirty, ok bool, err error) {
	p, call, err := on(db, opStatus, opts)
	if err != nil {
		return 0, false, false, err
	}
	return p.Version(ctx, call...)
}

// Version returns the applied migration version and the dirty flag, as Status reads them (it takes
// Status's options); ok is false when none is applied.
func (p *Provider) Version(ctx context.Context, opts ...Option) (version uint, dirty, ok bool, err error) {
	s, err := p.Status(ctx, opts...)
	if err != nil {
		return 0, false, false, err
	}
	return s.Version, s.Dirty, s.HasVersion, nil
}
