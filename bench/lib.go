package main

// lib.go and libseal.go are the only files that import the library's root package: everything the benchmark
// asks of the library.

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/mysql"    // registers the MySQL/MariaDB dialect
	_ "github.com/agui-go/sessionsec/postgres" // registers the PostgreSQL dialect
)

func libMigrate(ctx context.Context, db *sql.DB, dialect string, log *slog.Logger) error {
	return sessionsec.Migrate(ctx, db, sessionsec.WithLogger(log), sessionsec.WithDialect(dialect))
}

// libValidate returns whether the schema is valid and the report text.
func libValidate(ctx context.Context, db *sql.DB, dialect string, log *slog.Logger) (bool, string, error) {
	rep, err := sessionsec.Validate(ctx, db, sessionsec.WithLogger(log), sessionsec.WithDialect(dialect))
	var verr *sessionsec.ValidationError
	if errors.As(err, &verr) {
		return false, rep.String(), nil
	}
	if err != nil {
		return false, "", err
	}
	return rep.OK(), rep.String(), nil
}

// libTasks are the maintenance tasks the benchmark runs, in order.
var libTasks = []struct {
	name string
	run  func(ctx context.Context, db *sql.DB, dialect string) (*sessionsec.MaintenanceResult, error)
}{
	{"UpdateRiskScores", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.UpdateRiskScores(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)))
	}},
	{"Archive (expired > 7 days)", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.Archive(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)), sessionsec.WithOlderThan(7*24*time.Hour))
	}},
	{"Cleanup", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.Cleanup(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)))
	}},
	{"PruneAudit (> 30 days)", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.PruneAudit(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)))
	}},
}
