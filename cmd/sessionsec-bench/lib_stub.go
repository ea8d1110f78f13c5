//go:build nolib

package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
)

const libAvailable = false

var errNoLib = errors.New("built with -tags nolib: the library is not linked in")

func libMigrate(context.Context, *sql.DB, string, *slog.Logger) error { return errNoLib }

func libValidate(context.Context, *sql.DB, string, *slog.Logger) (bool, string, error) {
	return false, "", errNoLib
}
