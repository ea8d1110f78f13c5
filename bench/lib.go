package main

// The only file that imports the library's root package: everything the benchmark asks of the library.

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"

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
