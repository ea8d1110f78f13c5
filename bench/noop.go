package main

// Nothing-to-do calls: sessionsec.Migrate and Validate against golang-migrate's own Up() (which returns
// ErrNoChange), all on the counting driver, so each call's latency and number of statements are measured.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/migrations"
)

// callStats summarizes K repetitions of one call.
type callStats struct {
	Name       string
	Reps       int
	MedianMs   float64
	MinMs      float64
	MaxMs      float64
	Queries    float64 // statements per call (mean)
	Pings      float64
	QueriesMin int64
	QueriesMax int64
	TookLock   bool     // a lock function (GET_LOCK / pg_advisory_lock / pg_try_advisory_lock) was called
	Statements []string // statements of the last call
	Err        string
}

func isLockStmt(q string) bool {
	l := strings.ToLower(q)
	return strings.Contains(l, "get_lock(") || strings.Contains(l, "advisory_lock") || strings.Contains(l, "advisory_xact_lock")
}

// measureCalls runs f reps times (after one untimed warm-up call) and reads the counting driver around each.
func measureCalls(name string, reps int, f func() error) callStats {
	cs := callStats{Name: name, Reps: reps, QueriesMin: -1}
	if err := f(); err != nil {
		cs.Err = err.Error()
		return cs
	}
	var lat []float64
	var qsum, psum int64
	for i := 0; i < reps; i++ {
		qlog.reset()
		start := time.Now()
		err := f()
		d := time.Since(start)
		q, p, texts := qlog.snapshot()
		if err != nil {
			cs.Err = err.Error()
			return cs
		}
		lat = append(lat, float64(d.Microseconds())/1000)
		qsum += q
		psum += p
		if cs.QueriesMin < 0 || q < cs.QueriesMin {
			cs.QueriesMin = q
		}
		cs.QueriesMax = max(cs.QueriesMax, q)
		for _, t := range texts {
			if isLockStmt(t) {
				cs.TookLock = true
			}
		}
		cs.Statements = texts
	}
	sort.Float64s(lat)
	cs.MedianMs = lat[len(lat)/2]
	cs.MinMs = lat[0]
	cs.MaxMs = lat[len(lat)-1]
	cs.Queries = float64(qsum) / float64(reps)
	cs.Pings = float64(psum) / float64(reps)
	return cs
}

func (s server) migrateDriver(db *sql.DB) (database.Driver, error) {
	if s.Dialect == "postgres" {
		return migratepg.WithInstance(db, &migratepg.Config{MigrationsTable: sessionsec.DefaultMigrationsTable})
	}
	return migratemysql.WithInstance(db, &migratemysql.Config{MigrationsTable: sessionsec.DefaultMigrationsTable})
}

// noopBench measures the nothing-pending calls on dbName, which is fully migrated.
func (s server) noopBench(ctx context.Context, dbName string, reps int, quiet *slog.Logger) (migrateCall, migrateFresh, validateCall, upOnly, newAndUp callStats, err error) {
	cdb, err := s.open(dbName, true, false, 4)
	if err != nil {
		return
	}
	defer cdb.Close()
	migrateCall = measureCalls("sessionsec.Migrate (nothing pending)", reps, func() error {
		return libMigrate(ctx, cdb, s.Dialect, quiet)
	})
	migrateFresh = measureCalls("sessionsec.Migrate (nothing pending, new pool)", reps, func() error {
		db, err := s.open(dbName, true, false, 2)
		if err != nil {
			return err
		}
		defer db.Close()
		return libMigrate(ctx, db, s.Dialect, quiet)
	})
	validateCall = measureCalls("sessionsec.Validate", reps, func() error {
		ok, rep, err := libValidate(ctx, cdb, s.Dialect, quiet)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("schema not valid: %s", rep)
		}
		return nil
	})

	// golang-migrate, instance built once, then Up() only.
	gdb, err := s.open(dbName, true, false, 4)
	if err != nil {
		return
	}
	defer gdb.Close()
	src, err := migrations.Source("spec", s.Dialect)
	if err != nil {
		return
	}
	drv, err := s.migrateDriver(gdb)
	if err != nil {
		err = fmt.Errorf("golang-migrate driver: %w", err)
		return
	}
	m, err := migrate.NewWithInstance("iofs", src, s.Dialect, drv)
	if err != nil {
		err = fmt.Errorf("golang-migrate: %w", err)
		return
	}
	defer m.Close() // closes gdb
	noChange := func(err error) error {
		if errors.Is(err, migrate.ErrNoChange) {
			return nil
		}
		if err == nil {
			return errors.New("golang-migrate Up applied something: expected ErrNoChange")
		}
		return err
	}
	upOnly = measureCalls("golang-migrate Up() (instance reused)", reps, func() error { return noChange(m.Up()) })

	// golang-migrate as a start-up would run it: NewWithInstance + Up on a warm pool.
	newAndUp = measureCalls("golang-migrate NewWithInstance+Up()", reps, func() error {
		db, err := s.open(dbName, true, false, 2)
		if err != nil {
			return err
		}
		defer db.Close()
		src, err := migrations.Source("spec", s.Dialect)
		if err != nil {
			return err
		}
		drv, err := s.migrateDriver(db)
		if err != nil {
			return err
		}
		m, err := migrate.NewWithInstance("iofs", src, s.Dialect, drv)
		if err != nil {
			return err
		}
		defer m.Close()
		return noChange(m.Up())
	})
	return
}
