// Command startup is the README's start-up snippet as a program that compiles (go vet builds it):
// an AG-UI server that migrates and validates its session table before it serves.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql" // the application's own driver

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/mysql" // registers the MySQL/MariaDB dialect (or postgres, sqlite)
)

func main() {
	if err := run(context.Background(), os.Getenv("DATABASE_DSN")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// README:start
func run(ctx context.Context, dsn string) error {
	db, err := sql.Open("mysql", dsn) // "user:pass@tcp(host:3306)/app?parseTime=true"; multiStatements is not needed
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute) // waiting for another replica's migration included
	defer cancel()

	// Every replica may call this at once: with nothing pending it returns after two queries; otherwise
	// one replica migrates while the others wait for the lock. The layout of the table (the spec's, or
	// the AG-UI SDK store's) is recognised from its columns; pass sessionsec.WithTable for another name.
	logger := slog.Default()
	if err := sessionsec.Migrate(ctx, db, sessionsec.WithLogger(logger)); err != nil {
		return fmt.Errorf("session-security schema: %w", err)
	}
	// Prove the result: every column, index, trigger and routine, by its definition, and the version.
	rep, err := sessionsec.Validate(ctx, db, sessionsec.WithLogger(logger))
	if err != nil {
		return fmt.Errorf("session-security schema: %w", err) // the error lists every problem
	}
	logger.Info("session-security schema", "report", rep.String())
	return nil // serve
}

// README:end
