//go:build !nolib

package main

// The only file that imports the library's root package (build with -tags nolib to compile the harness while
// the library does not build; the library runs are then reported as errors).

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"

	"github.com/agui-go/sessionsec"
)

const libAvailable = true

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
