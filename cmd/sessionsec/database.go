package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/agui-go/sessionsec"
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
	// user, name and host are what the URL asks for, for error messages: the user, the database (the
	// SQLite file) and the server's address.
	user, name, host string
}

// errUsage marks a bad command line (exit 2).
var errUsage = errors.New("usage")

// errDatabaseURL marks a -database URL that golang-migrate would refuse too (exit 2); it wraps errUsage.
var errDatabaseURL = fmt.Errorf("%w: bad -database URL", errUsage)

// urlError is a -database URL that cannot be used: which one (redacted), why, and what to do.
type urlError struct {
	URL    string // redacted
	Reason string // never holds the password
	Fix    string
}

func (e *urlError) Error() string {
	s := "-database " + e.URL + ": " + e.Reason
	if e.Fix != "" {
		s += " (" + e.Fix + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, errDatabaseURL) and errors.Is(err, errUsage) true.
func (e *urlError) Unwrap() error { return errDatabaseURL }

// encodeFix is the advice for a URL whose user-info does not parse.
const encodeFix = "percent-encode reserved characters in the user name and password: % as %25, @ as %40, / as %2F, ? as %3F, # as %23, : as %3A, + as %2B"

// named adds to a connection error the database, server and user the URL asked for (the password
// never): "access denied" or "connection refused" alone do not say which of them was wrong.
func (t *target) named(err error) error {
	if err == nil || !errors.Is(err, sessionsec.ErrNoDatabase) || t.dialect == "sqlite" {
		return err
	}
	return fmt.Errorf("%w; tried database %q on %s as user %q (%s)", err, t.name, t.host, t.user, t.shown)
}

// takeXParams removes golang-migrate's own URL parameters (x-...), which must not reach the SQL driver
// (PostgreSQL refuses unknown settings), and returns x-migrations-table.
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

// parseDatabase turns a golang-migrate URL into a database/sql driver name and DSN, and a form that is
// safe to print. It reads each scheme exactly as golang-migrate's driver for it does, so that the
// command and the stock migrate CLI reach the same database as the same user, and refuses what that
// driver refuses. mode is the SQLite open mode: "rwc" creates a missing file (only `up` does), "rw" and
// "ro" refuse one.
func parseDatabase(raw, mode string) (*target, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, &urlError{URL: Redact(raw), Reason: "want scheme://...",
			Fix: "e.g. mysql://user:pass@tcp(host:3306)/app, postgres://user:pass@host/app, " + defaultSQLite}
	}
	switch scheme {
	case "mysql":
		return parseMySQL(raw)
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, &urlError{URL: Redact(raw), Reason: "not a URL golang-migrate can parse", Fix: encodeFix}
		}
		q := u.Query()
		table := takeXParams(q)
		u.RawQuery = q.Encode()
		user := u.User.Username()
		if user == "" {
			user = q.Get("user")
		}
		return &target{driver: "postgres", dsn: u.String(), shown: Redact(raw), dialect: "postgres", migrationsTable: table,
			user: user, name: strings.TrimPrefix(u.Path, "/"), host: u.Host}, nil
	case "sqlite", "sqlite3":
		// golang-migrate's sqlite driver opens the URL without its scheme and its x- parameters.
		u, err := url.Parse(raw)
		if err != nil {
			return nil, &urlError{URL: Redact(raw), Reason: "not a URL golang-migrate can parse",
				Fix: "percent-encode spaces and reserved characters in the path, e.g. " + defaultSQLite}
		}
		q := u.Query()
		table := takeXParams(q)
		u.RawQuery = ""
		// (golang-migrate would open a file named "sqlite:" for a bare "sqlite://": refused here.)
		path := strings.TrimPrefix(strings.TrimPrefix(u.String(), scheme+":"), "//")
		if path == "" {
			return nil, &urlError{URL: Redact(raw), Reason: "a sqlite URL needs a file path", Fix: "e.g. " + defaultSQLite}
		}
		q.Add("_pragma", "busy_timeout(10000)")
		if mode == "rwc" {
			// WAL lets readers work during the migration; only the command that may create the file sets it.
			q.Add("_pragma", "journal_mode(WAL)")
		}
		q.Set("mode", mode)
		return &target{driver: "sqlite", dsn: "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode(),
			shown: Redact(raw), dialect: "sqlite", path: path, name: path, migrationsTable: table}, nil
	}
	return nil, &urlError{URL: Redact(raw), Reason: fmt.Sprintf("unsupported scheme %q", scheme), Fix: "use mysql://, postgres:// or sqlite://"}
}

// parseMySQL reads a mysql:// URL as golang-migrate's mysql driver does: go-sql-driver's DSN parser on
// the URL without its scheme (user:pass@tcp(host:port)/db?params: the last "/" ends the address, the
// last "@" before it ends the password, so a password may hold "@", "/", "?" and ":"), then the user name
// and password query-unescaped ("%40" is "@", "+" is a space; a "%" that starts no escape is refused),
// the x- parameters kept for migrate, and tls=<name> with x-tls-ca (x-tls-cert, x-tls-key,
// x-tls-insecure-skip-verify) registered as that TLS configuration.
func parseMySQL(raw string) (*target, error) {
	shown := Redact(raw)
	bad := func(reason, fix string) error { return &urlError{URL: shown, Reason: reason, Fix: fix} }
	dsn := strings.TrimPrefix(raw, "mysql://")
	if i := strings.LastIndex(dsn, "?"); i > 0 {
		q, err := url.ParseQuery(dsn[i+1:])
		if err != nil {
			return nil, bad("bad query string", "percent-encode & = ? # in parameter values")
		}
		if err := registerTLS(q); err != nil {
			return nil, bad(err.Error(), "")
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		if strings.HasPrefix(err.Error(), "default addr for network") {
			// user:pass@host:3306/app: golang-migrate takes "host:3306" for a network name and fails.
			return nil, bad("the server address must be written tcp(host:port), as golang-migrate's mysql driver requires",
				"e.g. mysql://user:pass@tcp(host:3306)/app")
		}
		// The driver's message quotes parts of the DSN, which may be the password: they go.
		reason := "not a DSN go-sql-driver can parse: " + anyQuoted.ReplaceAllString(err.Error(), "'…'")
		return nil, bad(reason, "the form is mysql://user:pass@tcp(host:3306)/app; "+encodeFix)
	}
	if cfg.User, err = url.QueryUnescape(cfg.User); err != nil {
		return nil, bad("the user name has a bad %-escape", encodeFix)
	}
	if cfg.Passwd, err = url.QueryUnescape(cfg.Passwd); err != nil {
		return nil, bad("the password has a bad %-escape", encodeFix)
	}
	table := ""
	for k, v := range cfg.Params {
		if strings.HasPrefix(k, "x-") {
			if k == "x-migrations-table" {
				table = v
			}
			delete(cfg.Params, k)
		}
	}
	cfg.ParseTime = true
	return &target{driver: "mysql", dsn: cfg.FormatDSN(), shown: shown, dialect: "mysql", migrationsTable: table,
		user: cfg.User, name: cfg.DBName, host: cfg.Addr}, nil
}

// registerTLS registers the TLS configuration a URL's tls=<name> names from its x-tls-* files, as
// golang-migrate's mysql driver does (tls=true, false, skip-verify and preferred need none).
func registerTLS(q url.Values) error {
	name := q.Get("tls")
	switch strings.ToLower(name) {
	case "", "1", "0", "true", "false", "skip-verify", "preferred":
		return nil
	}
	pem, err := os.ReadFile(q.Get("x-tls-ca"))
	if err != nil {
		return fmt.Errorf("tls=%s: reading x-tls-ca: %v", name, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("tls=%s: x-tls-ca holds no PEM certificate", name)
	}
	c := &tls.Config{RootCAs: roots}
	if cert, key := q.Get("x-tls-cert"), q.Get("x-tls-key"); cert != "" || key != "" {
		if cert == "" || key == "" {
			return fmt.Errorf("tls=%s: x-tls-cert and x-tls-key go together", name)
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("tls=%s: %v", name, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	if s := q.Get("x-tls-insecure-skip-verify"); s != "" {
		if c.InsecureSkipVerify, err = strconv.ParseBool(s); err != nil {
			return fmt.Errorf("tls=%s: x-tls-insecure-skip-verify=%q is not a boolean", name, s)
		}
	}
	return mysql.RegisterTLSConfig(name, c)
}

// anyQuoted is a single- or double-quoted part of a message.
var anyQuoted = regexp.MustCompile(`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`)

// secretKeys are the parameter names whose values are redacted in every form.
var secretKeys = `password|passwd|pass|pwd|sslpassword|sslkey|secret|token|api_key|apikey|_auth_pass`

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
