package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// ErrReplicaLag: the replica lag bound (WithMaxReplicaLag) could not be kept: the replicas' lag cannot
// be measured (PostgreSQL: the user may not read pg_stat_replication's positions), or ctx ended while
// the work waited for a replica to catch up. What was committed stays; run the call again.
var ErrReplicaLag = errors.New("sessionsec: replica lag bound")

// DefaultMaxReplicaLag is the lag past which the long work pauses (WithMaxReplicaLag).
const DefaultMaxReplicaLag = time.Second

// lagPoll is how often a paused run measures the replicas again.
const lagPoll = 100 * time.Millisecond

// WithMaxReplicaLag bounds how far replicas may fall behind the primary while the long work runs: the
// backfill's batches, the maintenance tasks' batches, and the steps (index builds) pause while any
// replica lags more than d, and resume once all are within it (default 1s; 0 turns the bound off).
// PostgreSQL's streaming standbys are read from pg_stat_replication on the primary (needs superuser or
// pg_read_all_stats: under the default bound a user without it gets a warning and no bound, while an
// explicit WithMaxReplicaLag is refused with ErrReplicaLag and ErrPrivileges); MySQL and MariaDB replicas are the handles WithReplicas gives. The wait honours
// ctx; progress reports (Progress.Throttled) and the log say which replica it waits for and its lag.
func WithMaxReplicaLag(d time.Duration) Option {
	return Option{name: "WithMaxReplicaLag", ops: opMigrate | opRollback | opMaintain, apply: func(c *config) error {
		if d < 0 || d > time.Hour {
			return invalid("WithMaxReplicaLag(%s): want 0 (off) to 1h", d)
		}
		c.maxLag, c.maxLagSet = d, true
		return nil
	}}
}

// WithReplicas gives the MySQL or MariaDB replicas whose lag bounds the long work (WithMaxReplicaLag).
// Their lag is measured with sub-second precision by a heartbeat row the library writes on the primary,
// in the table <migrations table>_heartbeat (created on first use and kept, like the migrations table),
// and reads on each replica: the lag is how long ago the primary wrote the last heartbeat the replica has
// applied (0 when it has the newest). A replica that cannot be read counts as lagging, and the log says why. The
// handles are only read, never closed. PostgreSQL needs no handles: its standbys are read from the
// primary.
func WithReplicas(dbs ...*sql.DB) Option {
	return Option{name: "WithReplicas", ops: opMigrate | opRollback | opMaintain, apply: func(c *config) error {
		for i, db := range dbs {
			if db == nil {
				return invalid("WithReplicas: replica %d is a nil *sql.DB", i+1)
			}
		}
		c.replicas = append(c.replicas, dbs...)
		return nil
	}}
}

// throttle keeps the long work within the lag bound: wait, between batches and steps, returns once
// every replica is within it. A nil throttle (no bound, no replica to measure) never waits.
type throttle struct {
	d        dialect.Replication
	conn     dialect.Querier // the pinned session on the primary
	replicas []*sql.DB
	max      time.Duration
	// strict: the bound was asked for (WithMaxReplicaLag), so a lag that cannot be read is an error;
	// under the default, standbys whose positions the user may not see turn the bound off, with a warning.
	strict   bool
	off      bool
	table    string // the heartbeat table (MySQL)
	schema   string
	log      *slog.Logger
	progress func(Progress)
	scrub    func(error) error
	// samples are the primary's positions at the times they were marked, oldest first: a replica that
	// has not applied position pos has been behind since the sample's time.
	samples []lagSample
}

type lagSample struct {
	at  time.Time
	pos int64
}

// replicaLag is one replica's measure.
type replicaLag struct {
	name string
	lag  time.Duration
	err  error // it could not be read: lagging, for the reason err gives
}

func (l replicaLag) behind(bound time.Duration) bool { return l.err != nil || l.lag > bound }

// newThrottle returns the throttle of one call on session s, or nil when there is nothing to bound.
func (p *Provider) newThrottle(ctx context.Context, cfg config, s *session, srv dialect.Server) (*throttle, error) {
	if err := p.checkReplicas(cfg); err != nil {
		return nil, err
	}
	rep, ok := p.d.(dialect.Replication)
	if !ok || cfg.maxLag == 0 {
		return nil, nil
	}
	t := &throttle{d: rep, conn: s.conn, replicas: cfg.replicas, max: cfg.maxLag, strict: cfg.maxLagSet, schema: srv.Schema,
		log: cfg.logger, progress: cfg.progress, scrub: p.serverError}
	if len(cfg.replicas) > 0 {
		t.table = heartbeatTable(cfg.migrationsTable)
		// checkReplicas let replica handles through only for a Heartbeater.
		if err := rep.(dialect.Heartbeater).PrepareHeartbeat(ctx, s.conn, t.table); err != nil {
			return nil, fmt.Errorf("%w: %v (the heartbeat that measures the replicas' lag needs CREATE, INSERT and UPDATE on it; or pass WithMaxReplicaLag(0))",
				ErrReplicaLag, p.serverError(err))
		}
	} else if _, hb := rep.(dialect.Heartbeater); hb {
		return nil, nil // MySQL without replica handles: nothing to measure
	}
	return t, nil
}

// checkReplicas refuses replica handles the dialect cannot use, before anything is touched.
func (p *Provider) checkReplicas(cfg config) error {
	if len(cfg.replicas) == 0 {
		return nil
	}
	_, rep := p.d.(dialect.Replication)
	_, hb := p.d.(dialect.Heartbeater)
	switch {
	case !rep:
		return invalid("WithReplicas: the %s dialect has no replicas: drop the option", p.d.Name())
	case !hb:
		return invalid("WithReplicas is for MySQL and MariaDB replicas; %s standbys are read from the primary (pg_stat_replication): drop the option", p.d.Name())
	}
	return nil
}

// heartbeatTable is the heartbeat table's name: the migrations table's with _heartbeat, within
// MySQL's 64 characters.
func heartbeatTable(migrations string) string {
	const suffix = "_heartbeat"
	return migrations[:min(len(migrations), 64-len(suffix))] + suffix
}

// wait returns once every replica is within the bound, or with an error matching ErrReplicaLag when the
// lag cannot be measured or ctx ends first. at is the report the work would send now: the reports sent
// while waiting are at with Throttled set.
func (t *throttle) wait(ctx context.Context, at Progress) error {
	if t == nil || t.off {
		return nil
	}
	began := time.Now()
	var since, reported, logged time.Time
	for {
		worst, err := t.measure(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if !worst.behind(t.max) {
			if !since.IsZero() {
				t.log.InfoContext(ctx, "sessionsec: replicas caught up; resuming", "task", at.Task, "step", at.Step,
					"waited", now.Sub(since).Round(time.Millisecond), "replica", worst.name, "lag", worst.lag.Round(time.Millisecond), "max_lag", t.max)
			}
			return nil
		}
		if since.IsZero() {
			since = now
		}
		if now.Sub(logged) >= 5*time.Second {
			attrs := []any{"task", at.Task, "step", at.Step, "rows_done", at.Done, "replica", worst.name, "max_lag", t.max,
				"waited", now.Sub(since).Round(time.Millisecond)}
			if worst.err != nil {
				t.log.WarnContext(ctx, "sessionsec: pausing: a replica cannot be read, so its lag is unknown", append(attrs, "err", worst.err)...)
			} else {
				t.log.InfoContext(ctx, "sessionsec: pausing until the replica catches up", append(attrs, "lag", worst.lag.Round(time.Millisecond))...)
			}
			logged = now
		}
		if now.Sub(reported) >= time.Second {
			at.Elapsed += now.Sub(began)
			t.report(at, worst, now.Sub(since))
			at.Elapsed -= now.Sub(began)
			reported = now
		}
		if err := sleep(ctx, lagPoll); err != nil {
			return fmt.Errorf("%w: stopped while waiting for %s to catch up (lag %s, bound %s; run again to continue): %w",
				ErrReplicaLag, worst.name, worst.describe(), t.max, err)
		}
	}
}

func (l replicaLag) describe() string {
	if l.err != nil {
		return "unknown: " + l.err.Error()
	}
	return l.lag.Round(time.Millisecond).String()
}

func (t *throttle) report(at Progress, worst replicaLag, waited time.Duration) {
	if t.progress == nil {
		return
	}
	at.Throttled, at.Replica, at.Lag, at.Waited, at.Final = true, worst.name, worst.lag, waited, false
	if worst.err != nil {
		at.Lag = -1
	}
	t.progress(at)
}

// measure marks the primary's position and returns the replica furthest behind.
func (t *throttle) measure(ctx context.Context) (replicaLag, error) {
	now := time.Now()
	micros := now.UnixMicro()
	if n := len(t.samples); n > 0 && micros <= t.samples[n-1].pos && t.table != "" {
		micros = t.samples[n-1].pos + 1 // heartbeat positions must grow
	}
	pos, standbys, err := t.d.Beat(ctx, t.conn, t.table, micros)
	if err != nil {
		if ctx.Err() != nil {
			return replicaLag{}, fmt.Errorf("%w: %w", ErrReplicaLag, ctx.Err())
		}
		return replicaLag{}, fmt.Errorf("%w: measuring the replicas' lag on the primary: %v (or pass WithMaxReplicaLag(0))", ErrReplicaLag, t.scrub(err))
	}
	t.samples = append(t.samples, lagSample{at: now, pos: pos})
	var lags []replicaLag
	var oldest int64 = -1 // the lowest position every replica has applied; -1: unknown
	applied := func(p int64) {
		if oldest == -1 || p < oldest {
			oldest = p
		}
	}
	for _, s := range standbys {
		if !s.Visible && !t.strict {
			// The default bound must not stop an application's start-up for a monitoring grant it never
			// needed before: run without it, and say how to get it.
			t.log.WarnContext(ctx, "sessionsec: the primary hides its standbys' replay positions from this user, so the replica lag bound is off; grant it pg_read_all_stats to keep standbys within the bound",
				"standby", s.Name, "max_lag", t.max)
			t.off = true
			return replicaLag{}, nil
		}
		if !s.Visible {
			// A missing grant, not a lag: ErrPrivileges too, so that the command exits 3 (not permitted).
			return replicaLag{}, fmt.Errorf("%w (%w): the primary lists standby %s but hides its replay position from this user: grant it pg_read_all_stats (or pass WithMaxReplicaLag(0) to run without the bound)",
				ErrReplicaLag, ErrPrivileges, s.Name)
		}
		if !s.Known {
			lags = append(lags, replicaLag{name: "standby " + s.Name, err: errors.New("it has not reported a replay position yet")})
			continue
		}
		applied(s.Replayed)
		lags = append(lags, replicaLag{name: "standby " + s.Name, lag: t.lagAt(s.Replayed, time.Now())})
	}
	unreadable := false
	for i, db := range t.replicas {
		name := fmt.Sprintf("replica %d", i+1)
		rctx, cancel := context.WithTimeout(ctx, max(t.max, time.Second))
		p, err := t.d.(dialect.Heartbeater).ReplicaPosition(rctx, db, t.schema, t.table)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return replicaLag{}, fmt.Errorf("%w: %w", ErrReplicaLag, ctx.Err())
			}
			unreadable = true
			lags = append(lags, replicaLag{name: name, err: t.scrub(err)})
			continue
		}
		applied(p)
		lags = append(lags, replicaLag{name: name, lag: t.lagAt(p, time.Now())})
	}
	if !unreadable && oldest >= 0 {
		t.prune(oldest)
	}
	var worst replicaLag
	for _, l := range lags {
		switch {
		case worst.name == "",
			l.err != nil && worst.err == nil,
			(l.err == nil) == (worst.err == nil) && l.lag > worst.lag:
			worst = l
		}
	}
	return worst, nil
}

// lagAt is how long a replica that has applied position p may have been behind: since the last position
// marked that it has applied, whose next one it has not (0 when it has applied the newest). The true lag
// lies between the times of those two marks; taking the older keeps the estimate on the safe side, so
// that a batch never starts with the replica further behind than the bound. Before the first mark it
// has applied, the first mark's time is the best known.
func (t *throttle) lagAt(p int64, now time.Time) time.Duration {
	n := len(t.samples)
	if n == 0 || p >= t.samples[n-1].pos {
		return 0
	}
	at := t.samples[0].at
	for _, s := range t.samples {
		if s.pos > p {
			break
		}
		at = s.at
	}
	return now.Sub(at)
}

// prune forgets the samples every replica has applied but the last of them (the positions to come are
// later), so that a long run keeps a short list.
func (t *throttle) prune(applied int64) {
	i := 0
	for i < len(t.samples)-1 && t.samples[i+1].pos <= applied {
		i++
	}
	if i > 0 {
		t.samples = append(t.samples[:0], t.samples[i:]...)
	}
}

// withBackfillBatch sets the keys per backfill batch (the tests: a long backfill on a small table).
func withBackfillBatch(n int) Option {
	return Option{name: "withBackfillBatch", ops: opMigrate, apply: func(c *config) error { c.backfillBatch = n; return nil }}
}
