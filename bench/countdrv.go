package main

// A tiny database/sql driver wrapper that counts the statements sent through it. Bench instrumentation only:
// the library's Migrate/Validate and golang-migrate run on a *sql.DB opened with it, and the counter delta is
// the number of statements (Exec + Query, on a connection or a prepared statement) plus pings they issued.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
)

const (
	countingMySQL    = "sessionsec-bench-mysql"
	countingPostgres = "sessionsec-bench-postgres"
)

func init() {
	sql.Register(countingMySQL, &countingDriver{base: &mysql.MySQLDriver{}})
	sql.Register(countingPostgres, &countingDriver{base: &pq.Driver{}})
}

// queryLog is the process-wide statement counter of the counting drivers.
type queryLog struct {
	mu      sync.Mutex
	queries int64
	pings   int64
	texts   []string // first statements (shortened) since the last reset
}

var qlog queryLog

func (q *queryLog) add(text string) {
	q.mu.Lock()
	q.queries++
	if len(q.texts) < 400 {
		t := strings.Join(strings.Fields(text), " ")
		if len(t) > 90 {
			t = t[:90] + "..."
		}
		q.texts = append(q.texts, t)
	}
	q.mu.Unlock()
}

func (q *queryLog) ping() { q.mu.Lock(); q.pings++; q.mu.Unlock() }

func (q *queryLog) reset() { q.mu.Lock(); q.queries, q.pings, q.texts = 0, 0, nil; q.mu.Unlock() }

func (q *queryLog) snapshot() (queries, pings int64, texts []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queries, q.pings, append([]string(nil), q.texts...)
}

type countingDriver struct{ base driver.Driver }

func (d *countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &cconn{c: c}, nil
}

type cconn struct{ c driver.Conn }

var (
	_ driver.ExecerContext      = (*cconn)(nil)
	_ driver.QueryerContext     = (*cconn)(nil)
	_ driver.ConnPrepareContext = (*cconn)(nil)
	_ driver.ConnBeginTx        = (*cconn)(nil)
	_ driver.Pinger             = (*cconn)(nil)
	_ driver.SessionResetter    = (*cconn)(nil)
	_ driver.Validator          = (*cconn)(nil)
	_ driver.NamedValueChecker  = (*cconn)(nil)
)

func (c *cconn) Prepare(query string) (driver.Stmt, error) {
	s, err := c.c.Prepare(query)
	if err != nil {
		return nil, err
	}
	return &cstmt{s: s, q: query}, nil
}

func (c *cconn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.c.(driver.ConnPrepareContext); ok {
		s, err := p.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		return &cstmt{s: s, q: query}, nil
	}
	return c.Prepare(query)
}

func (c *cconn) Close() error { return c.c.Close() }

//lint:ignore SA1019 required by driver.Conn
func (c *cconn) Begin() (driver.Tx, error) { return c.c.Begin() } //nolint:staticcheck

func (c *cconn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.c.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.c.Begin() //nolint:staticcheck
}

func (c *cconn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.c.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := e.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		qlog.add(query)
	}
	return r, err
}

func (c *cconn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.c.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		qlog.add(query)
	}
	return r, err
}

func (c *cconn) Ping(ctx context.Context) error {
	qlog.ping()
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cconn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cconn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cconn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.c.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type cstmt struct {
	s driver.Stmt
	q string
}

func (s *cstmt) Close() error  { return s.s.Close() }
func (s *cstmt) NumInput() int { return s.s.NumInput() }

func (s *cstmt) Exec(args []driver.Value) (driver.Result, error) {
	qlog.add(s.q)
	return s.s.Exec(args) //nolint:staticcheck
}

func (s *cstmt) Query(args []driver.Value) (driver.Rows, error) {
	qlog.add(s.q)
	return s.s.Query(args) //nolint:staticcheck
}

func (s *cstmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	qlog.add(s.q)
	if e, ok := s.s.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.s.Exec(vals) //nolint:staticcheck
}

func (s *cstmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	qlog.add(s.q)
	if q, ok := s.s.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals, err := namedToValues(args)
	if err != nil {
		return nil, err
	}
	return s.s.Query(vals) //nolint:staticcheck
}

func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, driver.ErrSkip
		}
		out[i] = a.Value
	}
	return out, nil
}
