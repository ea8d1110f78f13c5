package main

// The write load: W writers, each paced at a fixed rate (open loop; a writer that fell behind does not burst to
// catch up), doing in random turns an INSERT of a new session, an UPDATE of last_accessed_at of an existing
// session, or a SELECT by session_id. Every operation is recorded with its start, end and outcome.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
)

const (
	opInsert = iota
	opUpdate
	opSelect
)

var opNames = []string{"insert", "update", "select"}

type opRec struct {
	Start, End int64 // ns since the load's t0
	Kind       uint8
	Err        bool
	Conflict   bool // the error was a conflict: MySQL/MariaDB 1213 (deadlock, Galera certification failure), PostgreSQL 40001/40P01
}

// loadSQL are the writers' statements. sdk: the AG-UI SDK store's table and statements (id, last_accessed, ...;
// the update is the SDK's UpdateSession that its GetSession runs on every read), on the session ids of the
// built rows as the bench's own table.
type loadSQL struct {
	insert, update, sel string
	sdk                 bool
}

// sdkLoadStatements are the AG-UI SDK store's create, update and get (mattsp1290/ag-ui go-sdk/pkg/server,
// DatabaseSessionStorage), with the times taken on the server.
func (s server) sdkLoadStatements() loadSQL {
	cols := "id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data, metadata"
	if s.Dialect == "postgres" {
		return loadSQL{sdk: true,
			insert: "INSERT INTO sessions (" + cols + ") VALUES ($1, $2, now(), now(), now() + interval '1 hour', $3, 'bench/1.0', true, '{}', '{}')",
			update: "UPDATE sessions SET last_accessed = now(), expires_at = now() + interval '1 hour', is_active = true, data = '{}', metadata = '{}' WHERE id = $1",
			sel:    "SELECT " + cols + " FROM sessions WHERE id = $1",
		}
	}
	return loadSQL{sdk: true,
		insert: "INSERT INTO sessions (" + cols + ") VALUES (?, ?, NOW(), NOW(), NOW() + INTERVAL 1 HOUR, ?, 'bench/1.0', true, '{}', '{}')",
		update: "UPDATE sessions SET last_accessed = NOW(), expires_at = NOW() + INTERVAL 1 HOUR, is_active = true, data = '{}', metadata = '{}' WHERE id = ?",
		sel:    "SELECT " + cols + " FROM sessions WHERE id = ?",
	}
}

// isConflict: the error is one a multi-primary cluster or a deadlock produces, which an application retries.
func isConflict(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

func (s server) loadStatements() loadSQL {
	if s.Dialect == "postgres" {
		return loadSQL{
			insert: "INSERT INTO sessions (session_id, user_id, created_at, expires_at, last_accessed_at) VALUES ($1, $2, now(), now() + interval '1 day', now())",
			update: "UPDATE sessions SET last_accessed_at = now() WHERE session_id = $1",
			sel:    "SELECT user_id, expires_at FROM sessions WHERE session_id = $1",
		}
	}
	return loadSQL{
		insert: "INSERT INTO sessions (session_id, user_id, created_at, expires_at, last_accessed_at) VALUES (?, ?, NOW(6), NOW(6) + INTERVAL 1 DAY, NOW(6))",
		update: "UPDATE sessions SET last_accessed_at = NOW(6) WHERE session_id = ?",
		sel:    "SELECT user_id, expires_at FROM sessions WHERE session_id = ?",
	}
}

type load struct {
	t0      time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	recs    [][]opRec
	firstEr []string
}

type loadConfig struct {
	writers   int
	rate      float64 // ops/s per writer
	rows      int
	seed      string
	opTimeout time.Duration
	maxRun    time.Duration // hard bound on the load's life
	stmts     *loadSQL      // nil: the bench's own table (s.loadStatements)
}

func newSessionID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return "w" + hex.EncodeToString(b[:])[:39]
}

func opExec(ctx context.Context, db *sql.DB, st loadSQL, kind int, seed string, rows int, r *mrand.Rand) error {
	switch {
	case kind == opInsert && st.sdk:
		_, err := db.ExecContext(ctx, st.insert, newSessionID(), fmt.Sprintf("user-w%d", r.IntN(1000)), fmt.Sprintf("10.1.%d.%d", r.IntN(250), 1+r.IntN(250)))
		return err
	case kind == opInsert:
		_, err := db.ExecContext(ctx, st.insert, newSessionID(), fmt.Sprintf("user-w%d", r.IntN(1000)))
		return err
	case kind == opUpdate:
		_, err := db.ExecContext(ctx, st.update, sessionID(seed, 1+r.IntN(rows)))
		return err
	case st.sdk:
		rs, err := db.QueryContext(ctx, st.sel, sessionID(seed, 1+r.IntN(rows)))
		if err != nil {
			return err
		}
		for rs.Next() {
		}
		if err := rs.Close(); err != nil {
			return err
		}
		return rs.Err()
	default:
		var a, b any
		err := db.QueryRowContext(ctx, st.sel, sessionID(seed, 1+r.IntN(rows))).Scan(&a, &b)
		if err == sql.ErrNoRows {
			err = nil
		}
		return err
	}
}

// startLoad starts the paced writers; t0 is the time origin of the records.
func startLoad(s server, db *sql.DB, cfg loadConfig, t0 time.Time) *load {
	l := &load{t0: t0, stop: make(chan struct{}), recs: make([][]opRec, cfg.writers)}
	warmPool(db, cfg.writers)
	st := s.loadStatements()
	if cfg.stmts != nil {
		st = *cfg.stmts
	}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	deadline := time.Now().Add(cfg.maxRun)
	for w := 0; w < cfg.writers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(w)+1, 42))
			// Spread the writers' phases over one interval.
			next := time.Now().Add(time.Duration(w) * interval / time.Duration(cfg.writers))
			recs := make([]opRec, 0, 1<<16)
			defer func() { l.mu.Lock(); l.recs[w] = recs; l.mu.Unlock() }()
			for {
				if d := time.Until(next); d > 0 {
					select {
					case <-l.stop:
						return
					case <-time.After(d):
					}
				} else {
					select {
					case <-l.stop:
						return
					default:
					}
				}
				if time.Now().After(deadline) {
					return
				}
				kind := r.IntN(3)
				ctx, cancel := context.WithTimeout(context.Background(), cfg.opTimeout)
				start := time.Now()
				err := opExec(ctx, db, st, kind, cfg.seed, cfg.rows, r)
				end := time.Now()
				cancel()
				recs = append(recs, opRec{Start: int64(start.Sub(t0)), End: int64(end.Sub(t0)), Kind: uint8(kind), Err: err != nil, Conflict: err != nil && isConflict(err)})
				if err != nil {
					l.mu.Lock()
					if len(l.firstEr) < 5 {
						l.firstEr = append(l.firstEr, fmt.Sprintf("%s: %v", opNames[kind], err))
					}
					l.mu.Unlock()
				}
				next = next.Add(interval)
				if now := time.Now(); next.Before(now) {
					next = now
				}
			}
		}(w)
	}
	return l
}

// warmPool opens n connections up front so that no measured operation pays for a connect.
func warmPool(db *sql.DB, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := make([]*sql.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			break
		}
		_ = c.PingContext(ctx)
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// finish stops the writers and returns all records sorted by end time.
func (l *load) finish() []opRec {
	close(l.stop)
	l.wg.Wait()
	var all []opRec
	for _, r := range l.recs {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].End < all[j].End })
	return all
}

// throughput runs W closed-loop writers doing only `kind` for d and returns completed ops per second.
func throughput(s server, db *sql.DB, writers int, kind int, d time.Duration, seed string, rows int) (float64, int) {
	st := s.loadStatements()
	warmPool(db, writers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total, errs := 0, 0
	start := time.Now()
	end := start.Add(d)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(w)+100, uint64(kind)))
			n, e := 0, 0
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := opExec(ctx, db, st, kind, seed, rows, r); err != nil {
					e++
				} else {
					n++
				}
				cancel()
			}
			mu.Lock()
			total += n
			errs += e
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds(), errs
}
