package sessionsec_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/internal/testtopo"
)

// The replica lag bound (issue 16 item 3), on the topology's PostgreSQL standby and MariaDB replica:
// replay is paused for 5 s in the middle of a backfill; the backfill must stop within one batch, wait,
// and resume once the replica has caught up, and the replica's lag - measured by the test on its own,
// from the replica's replay position against the primary's position over time - must never exceed the
// bound plus one batch when a batch ends.

const (
	lagRows    = 100_000
	lagBatch   = 1000 // keys per backfill batch: 100 batches, long enough to pause in the middle
	lagBound   = time.Second
	lagPause   = 5 * time.Second
	lagPauseAt = 3000 // rows backfilled when replay is paused
	// lagSlack covers the test's own measuring: its position samples are 10 ms apart, and reading
	// the replica's position takes a round trip on a busy machine.
	lagSlack = 200 * time.Millisecond
)

// lagProbe measures a replica's lag independently of the library: it samples the primary's position
// every 10 ms; a replica that has applied position p has been behind since the first sample above p.
type lagProbe struct {
	primary, replica func(ctx context.Context) (int64, error)

	mu      sync.Mutex
	samples []struct {
		at  time.Time
		pos int64
	}
	err error
}

func (p *lagProbe) run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pos, err := p.primary(ctx)
		now := time.Now()
		p.mu.Lock()
		if err != nil && ctx.Err() == nil && p.err == nil {
			p.err = err
		}
		if err == nil {
			p.samples = append(p.samples, struct {
				at  time.Time
				pos int64
			}{now, pos})
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// lag reads the replica's position and returns how long it has been behind.
func (p *lagProbe) lag(ctx context.Context) (time.Duration, error) {
	applied, err := p.replica(ctx)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.samples {
		if s.pos > applied {
			return now.Sub(s.at), nil
		}
	}
	return 0, nil
}

type lagBatchReport struct {
	at   time.Time
	done int64
	lag  time.Duration // the probe's
}

// lagCase is one topology under test.
type lagCase struct {
	d              *testdb.DB
	probe          *lagProbe
	catchUp        func(t testing.TB)
	pause, resume  func(ctx context.Context) error
	replicaPrefix  string // how the library names the replica in its reports
	opts           []sessionsec.Option
	pausedReplicas string // for messages
}

func runLagCase(t *testing.T, c lagCase) {
	ctx := ctxT(t)
	createExisting(t, c.d, lagRows)
	c.catchUp(t)
	// Whatever happens, replay runs again when the test ends: the standby is shared with every other
	// test on the server.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.resume(ctx); err != nil {
			t.Errorf("resuming replay on %s after the test: %v", c.pausedReplicas, err)
		}
	})

	probeCtx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan struct{})
	go func() { defer close(probeDone); c.probe.run(probeCtx) }()
	defer func() { stopProbe(); <-probeDone }()

	var (
		mu                  sync.Mutex
		batches             []lagBatchReport
		throttled           []sessionsec.Progress
		throttledAt         []time.Time
		pausedAt, resumedAt time.Time
		resumeErr, lagErr   error
	)
	resumed := make(chan struct{})
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	progress := func(pr sessionsec.Progress) {
		if pr.Throttled {
			mu.Lock()
			throttled, throttledAt = append(throttled, pr), append(throttledAt, time.Now())
			mu.Unlock()
			return
		}
		if pr.Step != "backfill" || pr.Unit != sessionsec.UnitRows {
			return
		}
		lag, err := c.probe.lag(ctx)
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if err != nil && lagErr == nil {
			lagErr = err
		}
		batches = append(batches, lagBatchReport{at: now, done: pr.Done, lag: lag})
		if pausedAt.IsZero() && pr.Done >= lagPauseAt && !pr.Final {
			if err := c.pause(ctx); err != nil {
				lagErr = fmt.Errorf("pausing replay: %w", err)
				close(resumed)
				pausedAt = now
				return
			}
			pausedAt = time.Now()
			go func() {
				defer close(resumed)
				time.Sleep(lagPause)
				err := c.resume(ctx)
				mu.Lock()
				resumedAt, resumeErr = time.Now(), err
				mu.Unlock()
			}()
		}
	}
	opts := append([]sessionsec.Option{sessionsec.WithLogger(logger), sessionsec.WithProgress(progress),
		sessionsec.WithMaxReplicaLag(lagBound), sessionsec.WithBackfillBatch(lagBatch)}, c.opts...)
	mustMigrate(t, c.d.DB, opts...)
	// Migrate returns with the replica within the bound: it waits for the last step's replay too.
	returnLag, returnErr := c.probe.lag(ctx)
	<-resumed
	stopProbe()
	<-probeDone

	mu.Lock()
	defer mu.Unlock()
	requireT(t, lagErr == nil && resumeErr == nil && c.probe.err == nil, "measuring: %v / resuming: %v / probe: %v", lagErr, resumeErr, c.probe.err)
	requireT(t, returnErr == nil && returnLag <= lagBound+lagSlack, "the replica lagged %s (%v) when Migrate returned: more than the bound %s plus the test's measuring slack %s",
		returnLag, returnErr, lagBound, lagSlack)
	requireT(t, !pausedAt.IsZero(), "the backfill never reached %d rows (%d reports)", lagPauseAt, len(batches))
	requireT(t, !resumedAt.IsZero(), "replay was not resumed")
	last := batches[len(batches)-1]
	requireT(t, last.done == lagRows, "the backfill ended at %d rows, want %d", last.done, lagRows)

	// The longest batch: the time between two reports with no pause between them.
	var longest time.Duration
	for i := 1; i < len(batches); i++ {
		paused := false
		for _, at := range throttledAt {
			paused = paused || (at.After(batches[i-1].at) && at.Before(batches[i].at))
		}
		if d := batches[i].at.Sub(batches[i-1].at); !paused && d > longest {
			longest = d
		}
	}
	var worst lagBatchReport
	for _, b := range batches {
		if b.lag > worst.lag {
			worst = b
		}
	}
	t.Logf("%d batches, longest %s; replica lag when a batch ended: at most %s (at %d rows); %d throttled reports; replay paused from %s until %s",
		len(batches), longest.Round(time.Millisecond), worst.lag.Round(time.Millisecond), worst.done, len(throttled),
		pausedAt.Format("15:04:05.000"), resumedAt.Format("15:04:05.000"))
	requireT(t, worst.lag <= lagBound+longest+lagSlack,
		"the replica lagged %s when the batch ending at %d rows committed: more than the bound %s plus one batch (%s) plus the test's measuring slack %s",
		worst.lag, worst.done, lagBound, longest, lagSlack)

	// Stopped within one batch: no batch ended after the lag passed the bound (pausedAt + bound) and
	// the batch running then (longest), until replay resumed.
	stopBy := pausedAt.Add(lagBound + longest + lagSlack)
	var during []int64
	after := 0
	var firstAfter time.Time
	for _, b := range batches {
		switch {
		case b.at.After(stopBy) && b.at.Before(resumedAt):
			during = append(during, b.done)
		case b.at.After(resumedAt):
			if after == 0 {
				firstAfter = b.at
			}
			after++
		}
	}
	t.Logf("the first batch after replay resumed ended %s later", firstAfter.Sub(resumedAt).Round(time.Millisecond))
	requireT(t, len(during) == 0, "batches ended at rows %v while %s's replay was paused (after %s, before %s)", during, c.pausedReplicas,
		stopBy.Format("15:04:05.000"), resumedAt.Format("15:04:05.000"))
	requireT(t, after > 0, "no batch ran after replay resumed: the backfill did not last through the pause (finished %d rows before it)", lagRows)

	// The pause was reported, with the replica and a lag over the bound, and logged.
	var seen bool
	for i, pr := range throttled {
		if throttledAt[i].After(pausedAt) && throttledAt[i].Before(resumedAt) {
			requireT(t, strings.HasPrefix(pr.Replica, c.replicaPrefix) && pr.Task == "migrate" && pr.Step == "backfill" && pr.Done >= lagPauseAt,
				"throttled report %+v: want the backfill and %s...", pr, c.replicaPrefix)
			seen = seen || pr.Lag > lagBound
		}
	}
	requireT(t, seen, "no progress report during the pause said a replica lagged more than %s: %+v", lagBound, throttled)
	out := logs.String()
	requireT(t, strings.Contains(out, `msg="sessionsec: pausing until the replica catches up"`) && strings.Contains(out, "replica=\""+c.replicaPrefix) &&
		strings.Contains(out, `msg="sessionsec: replicas caught up; resuming"`), "the log does not say when and why it waited:\n%s", out)
	verifyHashes(t, c.d, lagRows)
}

func testdbServer(t *testing.T, name string) testdb.Server {
	for _, s := range testdb.Servers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no test server %q", name)
	return testdb.Server{}
}

func openPool(t *testing.T, driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func queryInt(db *sql.DB, query string) func(ctx context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		var v int64
		err := db.QueryRowContext(ctx, query).Scan(&v)
		return v, err
	}
}

// TestReplicaLagPGStandby: the standby is read from pg_stat_replication on the primary; no handle.
func TestReplicaLagPGStandby(t *testing.T) {
	s := testtopo.PGStandby(t)
	d := &testdb.DB{Server: testdbServer(t, "postgres"), DB: s.Primary, Name: s.Name, DSN: s.PrimaryDSN, DriverName: "postgres"}
	exec := func(q string) func(ctx context.Context) error {
		return func(ctx context.Context) error { _, err := s.Standby.ExecContext(ctx, q); return err }
	}
	runLagCase(t, lagCase{
		d: d,
		probe: &lagProbe{
			primary: queryInt(openPool(t, "postgres", s.PrimaryDSN), "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8"),
			replica: queryInt(s.Standby, "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8"),
		},
		catchUp:        s.CatchUp,
		pause:          exec("SELECT pg_wal_replay_pause()"),
		resume:         exec("SELECT pg_wal_replay_resume()"),
		replicaPrefix:  "standby ",
		pausedReplicas: "the standby",
	})
}

// TestReplicaLagMariaDBReplica: the replica's handle is given with WithReplicas; its lag is read from
// the heartbeat row.
func TestReplicaLagMariaDBReplica(t *testing.T) {
	r := testtopo.MariaDBReplica(t)
	d := &testdb.DB{Server: testdbServer(t, "mariadb"), DB: r.Primary, Name: r.Name, DSN: r.PrimaryDSN, DriverName: "mysql"}
	exec := func(q string) func(ctx context.Context) error {
		return func(ctx context.Context) error { _, err := r.Replica.ExecContext(ctx, q); return err }
	}
	runLagCase(t, lagCase{
		d: d,
		probe: &lagProbe{
			primary: gtidSeq(openPool(t, "mysql", r.PrimaryDSN), "SELECT @@GLOBAL.gtid_binlog_pos"),
			replica: gtidSeq(r.Replica, "SELECT @@GLOBAL.gtid_slave_pos"),
		},
		catchUp:        r.CatchUp,
		pause:          exec("STOP SLAVE SQL_THREAD"),
		resume:         exec("START SLAVE"),
		replicaPrefix:  "replica 1",
		pausedReplicas: "the replica",
		opts:           []sessionsec.Option{sessionsec.WithReplicas(r.Replica)},
	})
}

// gtidSeq reads a GTID position and returns the sequence number of replication domain 0 (the test
// servers use one domain), a number that grows with every transaction the primary logs.
func gtidSeq(db *sql.DB, query string) func(ctx context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		var pos string
		if err := db.QueryRowContext(ctx, query).Scan(&pos); err != nil {
			return 0, err
		}
		for _, g := range strings.Split(pos, ",") {
			parts := strings.Split(strings.TrimSpace(g), "-")
			if len(parts) == 3 && parts[0] == "0" {
				return strconv.ParseInt(parts[2], 10, 64)
			}
		}
		return 0, errors.New("no GTID of domain 0 in " + pos)
	}
}

// lagMaintenance: with replay paused, Archive (one row per batch) pauses between batches and gives up
// when ctx ends, with an error matching ErrReplicaLag and ctx's; run again once the replica caught up,
// it finishes, and every session is in exactly one of the two tables.
func lagMaintenance(t *testing.T, d *testdb.DB, catchUp func(testing.TB), pause, resume func(context.Context) error, prefix string, opts ...sessionsec.Option) {
	const rows = 300
	createExisting(t, d, rows)
	mustMigrate(t, d.DB, opts...) // with the replicas: the heartbeat table is created and reaches them
	catchUp(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := resume(ctx); err != nil {
			t.Errorf("resuming replay after the test: %v", err)
		}
	})
	later := sessionsec.WithNow(func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) })
	var mu sync.Mutex
	var throttled []sessionsec.Progress
	progress := sessionsec.WithProgress(func(pr sessionsec.Progress) {
		if pr.Throttled {
			mu.Lock()
			throttled = append(throttled, pr)
			mu.Unlock()
		}
	})
	if err := pause(ctxT(t)); err != nil {
		t.Fatalf("pausing replay: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	defer cancel()
	all := append([]sessionsec.Option{later, progress, sessionsec.WithBatchSize(1), sessionsec.WithMaxReplicaLag(200 * time.Millisecond)}, opts...)
	res, err := sessionsec.Archive(ctx, d.DB, all...)
	requireT(t, errors.Is(err, sessionsec.ErrReplicaLag) && errors.Is(err, context.DeadlineExceeded),
		"Archive with replay paused: %v, want an error matching ErrReplicaLag and context.DeadlineExceeded", err)
	requireT(t, res != nil && res.Rows < rows, "Archive with replay paused moved %v of %d rows: it did not pause", res, rows)
	mu.Lock()
	requireT(t, len(throttled) > 0 && throttled[0].Task == sessionsec.TaskArchive && strings.HasPrefix(throttled[0].Replica, prefix) && throttled[0].Lag > 200*time.Millisecond,
		"throttled reports %+v: want the archive task waiting for %s... lagging over 200ms", throttled, prefix)
	mu.Unlock()
	t.Logf("paused after %d of %d rows: %v", res.Rows, rows, err)
	if err := resume(ctxT(t)); err != nil {
		t.Fatalf("resuming replay: %v", err)
	}
	catchUp(t)
	res2, err := sessionsec.Archive(ctxT(t), d.DB, all...)
	requireT(t, err == nil && res.Rows+res2.Rows == rows, "Archive after replay resumed: %v, %v (before: %d rows)", res2, err, res.Rows)
	var left, archived int
	if err := d.DB.QueryRow("SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM sessions_archive)").Scan(&left, &archived); err != nil {
		t.Fatal(err)
	}
	requireT(t, left == 0 && archived == rows, "%d sessions left and %d archived, want 0 and %d", left, archived, rows)
}

// TestReplicaLagMaintenance: the maintenance tasks' batches keep the bound, on both topologies.
func TestReplicaLagMaintenance(t *testing.T) {
	t.Run("pgstandby", func(t *testing.T) {
		s := testtopo.PGStandby(t)
		d := &testdb.DB{Server: testdbServer(t, "postgres"), DB: s.Primary, Name: s.Name, DSN: s.PrimaryDSN, DriverName: "postgres"}
		exec := func(q string) func(ctx context.Context) error {
			return func(ctx context.Context) error { _, err := s.Standby.ExecContext(ctx, q); return err }
		}
		lagMaintenance(t, d, s.CatchUp, exec("SELECT pg_wal_replay_pause()"), exec("SELECT pg_wal_replay_resume()"), "standby ")
	})
	t.Run("mariadbreplica", func(t *testing.T) {
		r := testtopo.MariaDBReplica(t)
		d := &testdb.DB{Server: testdbServer(t, "mariadb"), DB: r.Primary, Name: r.Name, DSN: r.PrimaryDSN, DriverName: "mysql"}
		exec := func(q string) func(ctx context.Context) error {
			return func(ctx context.Context) error { _, err := r.Replica.ExecContext(ctx, q); return err }
		}
		lagMaintenance(t, d, r.CatchUp, exec("STOP SLAVE SQL_THREAD"), exec("START SLAVE"), "replica 1", sessionsec.WithReplicas(r.Replica))
	})
}

// TestReplicaLagHeartbeat (MySQL 9.7, MariaDB): a replica that cannot be read counts as lagging - the
// migration waits, logs why, and gives up when ctx ends, with ErrReplicaLag; a replica that is current
// (here a second handle on the primary itself) lets it run through, and the heartbeat table stays.
func TestReplicaLagHeartbeat(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect != "mysql" {
			t.Skipf("skipping %s: the heartbeat is MySQL's and MariaDB's (PostgreSQL reads its standbys from the primary, SQLite has none)", d.Server.Name)
		}
		createExisting(t, d, 2000)
		unreachable := openPool(t, "mysql", "root@tcp(127.0.0.1:1)/nowhere?timeout=200ms")
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
		ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		err := sessionsec.Migrate(ctx, d.DB, sessionsec.WithLogger(logger), sessionsec.WithReplicas(d.Open(t), unreachable))
		requireT(t, errors.Is(err, sessionsec.ErrReplicaLag) && errors.Is(err, context.DeadlineExceeded),
			"Migrate with an unreachable replica: %v, want an error matching ErrReplicaLag and context.DeadlineExceeded", err)
		out := logs.String()
		requireT(t, strings.Contains(out, `msg="sessionsec: pausing: a replica cannot be read, so its lag is unknown"`) &&
			strings.Contains(out, `replica="replica 2"`) && strings.Contains(out, "err="), "the log does not say which replica cannot be read and why:\n%s", out)

		var progress []sessionsec.Progress
		mustMigrate(t, d.DB, sessionsec.WithReplicas(d.Open(t)), sessionsec.WithBackfillBatch(100),
			sessionsec.WithProgress(func(pr sessionsec.Progress) { progress = append(progress, pr) }))
		for _, pr := range progress {
			requireT(t, !pr.Throttled, "a current replica throttled the migration: %+v", pr)
		}
		verifyHashes(t, d, 2000)
		var micros int64
		if err := d.DB.QueryRow("SELECT micros FROM sessionsec_schema_migrations_heartbeat WHERE id = 1").Scan(&micros); err != nil {
			t.Fatalf("reading the heartbeat: %v", err)
		}
		requireT(t, time.Since(time.UnixMicro(micros)) < time.Minute, "the heartbeat says %s", time.UnixMicro(micros))
	})
}

// TestReplicaLagOptions: bad bounds and replica handles a dialect cannot use are refused before
// anything is touched.
func TestReplicaLagOptions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		for _, opt := range []sessionsec.Option{sessionsec.WithMaxReplicaLag(-time.Second), sessionsec.WithMaxReplicaLag(2 * time.Hour), sessionsec.WithReplicas(nil)} {
			err := sessionsec.Migrate(ctxT(t), d.DB, opt)
			requireT(t, errors.Is(err, sessionsec.ErrInvalidOption), "Migrate: %v, want ErrInvalidOption", err)
		}
		_, err := sessionsec.Cleanup(ctxT(t), d.DB, sessionsec.WithReplicas(d.DB))
		if d.Server.Dialect == "mysql" {
			requireT(t, errors.Is(err, sessionsec.ErrNotMigrated), "Cleanup on an empty MySQL database with a replica: %v, want ErrNotMigrated", err)
		} else {
			requireT(t, errors.Is(err, sessionsec.ErrInvalidOption) && strings.Contains(err.Error(), "WithReplicas"),
				"Cleanup with WithReplicas on %s: %v, want ErrInvalidOption", d.Server.Name, err)
		}
		if d.Server.Dialect != "sqlite" {
			schema := map[string]string{"mysql": "DATABASE()", "postgres": "current_schema()"}[d.Server.Dialect]
			var n int
			if err := d.DB.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = " + schema + " AND table_name LIKE 'sessionsec%'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("a refused call left %d table(s) behind (%v)", n, err)
			}
		}
	})
}

// TestReplicaLagPGHidden: a user who may not see the standbys' positions in pg_stat_replication (no
// superuser, no pg_read_all_stats) gets ErrReplicaLag saying so before any step, not an endless wait;
// WithMaxReplicaLag(0), the fix the message names, lets the migration run.
func TestReplicaLagPGHidden(t *testing.T) {
	s := testtopo.PGStandby(t)
	ctx := ctxT(t)
	role := "ssec_lag_" + strings.TrimPrefix(s.Name, "ssec_")
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT CREATE, CONNECT ON DATABASE " + s.Name + " TO " + role,
		"GRANT ALL ON SCHEMA public TO " + role,
	} {
		if _, err := s.Primary.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	u, err := url.Parse(s.PrimaryDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		for _, stmt := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := s.Primary.ExecContext(context.Background(), stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	d := &testdb.DB{Server: testdbServer(t, "postgres"), DB: db, Name: s.Name, DSN: u.String(), DriverName: "postgres"}
	createExisting(t, d, 100)
	// Asked for explicitly, a bound that cannot be measured is refused before anything is changed.
	err = sessionsec.Migrate(ctx, db, sessionsec.WithMaxReplicaLag(time.Second))
	requireT(t, errors.Is(err, sessionsec.ErrReplicaLag) && errors.Is(err, sessionsec.ErrPrivileges) && strings.Contains(err.Error(), "pg_read_all_stats"),
		"Migrate(WithMaxReplicaLag) as a user who cannot see the standby's position: %v, want ErrReplicaLag and ErrPrivileges naming pg_read_all_stats", err)
	st, err := sessionsec.Status(ctx, db)
	requireT(t, err == nil && !st.HasVersion, "after the refused Migrate: %v, %v; want no version applied", st, err)
	// Under the default bound the application's start-up goes on, without the bound, and the log says so.
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	mustMigrate(t, db, sessionsec.WithLogger(logger))
	requireT(t, strings.Contains(logs.String(), "pg_read_all_stats") && strings.Contains(logs.String(), "bound is off"),
		"the default bound, positions hidden: the log does not say the bound is off and why:\n%s", logs.String())
	verifyHashes(t, d, 100)
}
