package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

const defaultSQLite = "sqlite://sessionsec.db"

// target is a parsed -database: what to open, and what may be printed.
type target struct {
	driver  string // database/sql driver name
	dsn     string // what sql.Open gets
	shown   string // the URL with every secret redacted
	dialect string // "mysql", "postgres", "sqlite"
	path    string // SQLite: the file
	// migrationsTable is golang-migrate's x-migrations-table, when the URL has one.
	migrationsTable string
}

// errUsage marks a bad command line (exit 2).
var errUsage = errors.New("usage")

// xParams are golang-migrate's own URL parameters: the CLI's URLs carry them, and they must not reach
// the SQL driver (PostgreSQL refuses unknown settings, MySQL's driver sends them as SET).
func takeXParams(q url.Values) (table string) {
	for k := range q {
		if strings.HasPrefix(k, "x-") {
			if k == "x-migrations-table" {
				table = q.Get(k)
			}
			q.Del(k)
		}
	}
	return table
}

var hostPort = regexp.MustCompile(`^([^/()]*)@([^/()]+)/(.*)$`)

// parseDatabase turns a golang-migrate style URL into a database/sql driver name and DSN, and a form
// that is safe to print. mode is the SQLite open mode: "rwc" creates a missing file (only `up` does),
// "rw" and "ro" refuse one.
func parseDatabase(raw, mode string) (*target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("%w: -database %q: want scheme://..., e.g. mysql://user:pass@tcp(host:3306)/app, postgres://user:pass@host/app, %s", errUsage, Redact(raw), defaultSQLite)
	}
	switch scheme {
	case "mysql":
		base, query, _ := strings.Cut(rest, "?")
		// golang-migrate's form is user:pass@tcp(host:port)/db; accept user:pass@host:port/db too.
		if m := hostPort.FindStringSubmatch(base); m != nil {
			base = m[1] + "@tcp(" + m[2] + ")/" + m[3]
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("%w: -database %s: bad query string", errUsage, Redact(raw))
		}
		table := takeXParams(q)
		dsn := base
		if len(q) > 0 {
			dsn += "?" + q.Encode()
		}
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("%w: -database %s: %s", errUsage, Redact(raw), strings.ReplaceAll(err.Error(), dsn, "<dsn>"))
		}
		cfg.ParseTime = true
		return &target{driver: "mysql", dsn: cfg.FormatDSN(), shown: Redact(raw), dialect: "mysql", migrationsTable: table}, nil
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: -database %s: cannot parse the URL (percent-encode special characters in the password)", errUsage, Redact(raw))
		}
		q := u.Query()
		table := takeXParams(q)
		u.RawQuery = q.Encode()
		return &target{driver: "postgres", dsn: u.String(), shown: Redact(raw), dialect: "postgres", migrationsTable: table}, nil
	case "sqlite", "sqlite3":
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("%w: -database %s: a sqlite URL needs a file path, e.g. %s", errUsage, raw, defaultSQLite)
		}
		q, _ := url.ParseQuery(query)
		table := takeXParams(q)
		params := url.Values{}
		params.Add("_pragma", "busy_timeout(10000)")
		if mode == "rwc" {
			// WAL lets readers work during the migration; only the command that may create the file sets it.
			params.Add("_pragma", "journal_mode(WAL)")
		}
		params.Set("mode", mode)
		return &target{driver: "sqlite", dsn: "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode(),
			shown: raw, dialect: "sqlite", path: path, migrationsTable: table}, nil
	}
	return nil, fmt.Errorf("%w: -database: unsupported scheme %q: use mysql://, postgres:// or sqlite://", errUsage, scheme)
}

// secretKeys are the parameter names whose values are redacted in every form.
var secretKeys = `password|passwd|pass|pwd|sslpassword|sslkey|secret|token|api_key|apikey`

// keyValue is key=value in URL queries and keyword DSNs ("host=x password=y", "?password=y&...",
// "password='p w'").
var keyValue = regexp.MustCompile(`(?i)((?:^|[?&;\s])(?:` + secretKeys + `)\s*=\s*)('(?:[^'\\]|\\.)*'|[^&;\s]*)`)

// Redact hides every password in a database URL or DSN, in any form the drivers take: URL user-info
// (postgres://u:pw@h, mysql://u:pw@tcp(h)), a MySQL DSN (u:pw@tcp(h)/db), query parameters (?password=pw)
// and keyword/value DSNs (host=h password=pw, password='p w'). It errs on the side of hiding: the
// user-info runs from the first ":" after the scheme to the last "@", whatever the password holds.
func Redact(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	if at := strings.LastIndex(s, "@"); at > start {
		if c := strings.Index(s[start:at], ":"); c >= 0 {
			s = s[:start+c+1] + "xxxxx" + s[at:]
		}
	}
	return keyValue.ReplaceAllString(s, "${1}xxxxx")
}
