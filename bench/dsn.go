package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
)

// server is one database server under test.
type server struct {
	Key     string // mysql, mariadb, postgres
	Dialect string // sessionsec dialect: mysql or postgres
	EnvVar  string
	BaseDSN string
}

var serverDefs = map[string]server{
	"mysql":    {Key: "mysql", Dialect: "mysql", EnvVar: "SESSIONSEC_MYSQL_DSN"},
	"mariadb":  {Key: "mariadb", Dialect: "mysql", EnvVar: "SESSIONSEC_MARIADB_DSN"},
	"postgres": {Key: "postgres", Dialect: "postgres", EnvVar: "SESSIONSEC_POSTGRES_DSN"},
}

func loadServer(key string) (server, error) {
	s, ok := serverDefs[key]
	if !ok {
		return s, fmt.Errorf("unknown server %q (want mysql, mariadb, postgres)", key)
	}
	s.BaseDSN = os.Getenv(s.EnvVar)
	if s.BaseDSN == "" {
		return s, fmt.Errorf("%s: %s is not set", key, s.EnvVar)
	}
	host, err := s.host()
	if err != nil {
		return s, fmt.Errorf("%s: %s: %w", key, s.EnvVar, err)
	}
	if !isLoopback(host) {
		return s, fmt.Errorf("%s: %s points at %q: this benchmark creates and drops databases and only runs against 127.0.0.1/localhost", key, s.EnvVar, host)
	}
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s server) host() (string, error) {
	if s.Dialect == "mysql" {
		cfg, err := mysql.ParseDSN(s.BaseDSN)
		if err != nil {
			return "", err
		}
		if cfg.Net == "unix" {
			return "localhost", nil
		}
		h, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return cfg.Addr, nil
		}
		return h, nil
	}
	u, err := url.Parse(s.BaseDSN)
	if err != nil {
		return "", err
	}
	return u.Hostname(), nil
}

// dsn returns the DSN for database dbName ("" keeps the base DSN's database). interpolate turns on
// client-side parameter interpolation for MySQL (one round trip per statement for the writers).
func (s server) dsn(dbName string, interpolate bool) string {
	if s.Dialect == "mysql" {
		cfg, err := mysql.ParseDSN(s.BaseDSN)
		if err != nil {
			panic(err) // checked in loadServer
		}
		if dbName != "" {
			cfg.DBName = dbName
		}
		cfg.InterpolateParams = interpolate
		return cfg.FormatDSN()
	}
	u, _ := url.Parse(s.BaseDSN)
	if dbName != "" {
		u.Path = "/" + dbName
	}
	return u.String()
}

func (s server) driverName(counting bool) string {
	switch {
	case s.Dialect == "mysql" && counting:
		return countingMySQL
	case s.Dialect == "mysql":
		return "mysql"
	case counting:
		return countingPostgres
	default:
		return "postgres"
	}
}

func (s server) open(dbName string, counting, interpolate bool, maxConns int) (*sql.DB, error) {
	db, err := sql.Open(s.driverName(counting), s.dsn(dbName, interpolate))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(0)
	return db, nil
}

func (s server) version(ctx context.Context, db *sql.DB) string {
	var v string
	q := "SELECT VERSION()"
	if s.Dialect == "postgres" {
		q = "SHOW server_version"
	}
	if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	switch s.Key {
	case "mysql":
		return "MySQL " + v
	case "mariadb":
		return "MariaDB " + v
	default:
		return "PostgreSQL " + v
	}
}

// createDB creates a fresh database named name (dropping a leftover of the same name first).
func (s server) createDB(ctx context.Context, admin *sql.DB, name string) error {
	if err := s.dropDB(ctx, admin, name); err != nil {
		return err
	}
	q := "CREATE DATABASE " + name
	if s.Dialect == "mysql" {
		q += " CHARACTER SET utf8mb4"
	}
	_, err := admin.ExecContext(ctx, q)
	return err
}

func (s server) dropDB(ctx context.Context, admin *sql.DB, name string) error {
	q := "DROP DATABASE IF EXISTS " + name
	if s.Dialect == "postgres" {
		q += " WITH (FORCE)"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	_, err := admin.ExecContext(ctx, q)
	return err
}

func (s server) ph(i int) string {
	if s.Dialect == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

func sanitizeIdent(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
