package main

// lib.go and libseal.go are the only files that import the library's root package: everything the benchmark
// asks of the library.

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/mysql"    // registers the MySQL/MariaDB dialect
	_ "github.com/agui-go/sessionsec/postgres" // registers the PostgreSQL dialect
)

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

// libTasks are the maintenance tasks the benchmark runs, in order.
var libTasks = []struct {
	name string
	run  func(ctx context.Context, db *sql.DB, dialect string) (*sessionsec.MaintenanceResult, error)
}{
	{"UpdateRiskScores", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.UpdateRiskScores(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)))
	}},
	{"Archive (expired > 7 days)", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.Archive(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)), sessionsec.WithOlderThan(7*24*time.Hour))
	}},
	{"Cleanup", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.Cleanup(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)))
	}},
	{"PruneAudit (> 30 days)", func(ctx context.Context, db *sql.DB, d string) (*sessionsec.MaintenanceResult, error) {
		return sessionsec.PruneAudit(ctx, db, sessionsec.WithDialect(d), sessionsec.WithLogger(quietLogger(false)))
	}},
}

// libWait is one pause of the long work for the replicas, as the library logged its end.
type libWait struct {
	Step     string  // the step (or "backfill") the work waited to run
	EndNs    int64   // when the pause ended, ns since the run's t0
	WaitedMs float64 // its length
}

// replicaMigrate is what Migrate told of its waits for the replicas: its log records and WithProgress's
// Throttled reports.
type replicaMigrate struct {
	Steps       []stepSpan
	Waits       []libWait // pauses that ended ("sessionsec: replicas caught up; resuming")
	Throttled   int       // WithProgress reports with Throttled set (about one a second of pause)
	MaxLagMs    float64   // the largest lag those reports gave
	UnknownLags int       // reports of a replica whose lag could not be read
	Warnings    []string  // the library's warnings (the bound turned itself off, a replica unreadable)
}

// waitRecorder collects the library's pause records; with next set it passes Info and above on.
type waitRecorder struct {
	mu       sync.Mutex
	t0       time.Time
	waits    []libWait
	warnings []string
	next     slog.Handler
}

func (h *waitRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *waitRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *waitRecorder) WithGroup(string) slog.Handler            { return h }
func (h *waitRecorder) Handle(ctx context.Context, r slog.Record) error {
	if h.next != nil && r.Level >= slog.LevelInfo {
		_ = h.next.Handle(ctx, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= slog.LevelWarn && len(h.warnings) < 10 {
		h.warnings = append(h.warnings, strings.TrimPrefix(r.Message, "sessionsec: "))
	}
	if r.Message != "sessionsec: replicas caught up; resuming" {
		return nil
	}
	w := libWait{EndNs: int64(time.Since(h.t0))}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "step":
			w.Step = a.Value.String()
		case "waited":
			var d time.Duration
			switch a.Value.Kind() {
			case slog.KindDuration:
				d = a.Value.Duration()
			case slog.KindInt64:
				d = time.Duration(a.Value.Int64())
			default:
				d, _ = time.ParseDuration(a.Value.String())
			}
			w.WaitedMs = float64(d.Microseconds()) / 1000
		}
		return true
	})
	h.waits = append(h.waits, w)
	return nil
}

// libMigrateReplicas runs Migrate with the lag bound off (bound 0: WithMaxReplicaLag(0)), at its default
// (bound sessionsec.DefaultMaxReplicaLag: the option not given) or at bound, with replicas given by
// WithReplicas when there are any, and returns the steps it ran and its waits for the replicas. t0 is the
// origin of the waits' times.
func libMigrateReplicas(ctx context.Context, db *sql.DB, dialect string, bound time.Duration, replicas []*sql.DB, t0 time.Time, verbose bool) (replicaMigrate, error) {
	var mu sync.Mutex
	var out replicaMigrate
	progress := func(p sessionsec.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Throttled {
			out.Throttled++
			if p.Lag < 0 {
				out.UnknownLags++
			}
			out.MaxLagMs = max(out.MaxLagMs, float64(p.Lag.Microseconds())/1000)
			return
		}
		if p.Unit == sessionsec.UnitSteps && p.Final {
			end := time.Now()
			out.Steps = append(out.Steps, stepSpan{Name: p.Step, Start: end.Add(-p.Elapsed), End: end})
		}
	}
	wr := &waitRecorder{t0: t0}
	if verbose {
		wr.next = slog.NewTextHandler(os.Stderr, nil)
	}
	opts := []sessionsec.Option{sessionsec.WithLogger(slog.New(wr)), sessionsec.WithDialect(dialect), sessionsec.WithProgress(progress)}
	if bound != sessionsec.DefaultMaxReplicaLag {
		opts = append(opts, sessionsec.WithMaxReplicaLag(bound))
	}
	if bound > 0 && len(replicas) > 0 {
		opts = append(opts, sessionsec.WithReplicas(replicas...))
	}
	err := sessionsec.Migrate(ctx, db, opts...)
	mu.Lock()
	defer mu.Unlock()
	wr.mu.Lock()
	out.Waits, out.Warnings = wr.waits, wr.warnings
	wr.mu.Unlock()
	return out, err
}

// libDefaultMaxReplicaLag is the library's default lag bound.
const libDefaultMaxReplicaLag = sessionsec.DefaultMaxReplicaLag
