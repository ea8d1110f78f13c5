package main

// What the Galera and integrity measurements ask of the library: Migrate with step reports, the plan, and the
// session seals (Keyring, Seal, Verify, VerifySession, RunSealer).

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agui-go/sessionsec"
)

// stepSpan is one migration step as its final WithProgress report tells it.
type stepSpan struct {
	Name       string
	Start, End time.Time
	Failed     bool
}

// retryCounter counts the library's retry and back-off log records (a conflict lost, a lock waited for), by
// message; with next set it passes Info and above on.
type retryCounter struct {
	mu     sync.Mutex
	counts map[string]int
	next   slog.Handler
}

func (h *retryCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *retryCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *retryCounter) WithGroup(string) slog.Handler            { return h }
func (h *retryCounter) Handle(ctx context.Context, r slog.Record) error {
	if h.next != nil && r.Level >= slog.LevelInfo {
		_ = h.next.Handle(ctx, r)
	}
	if strings.Contains(r.Message, "retrying") || strings.Contains(r.Message, "backing off") {
		h.mu.Lock()
		h.counts[strings.TrimPrefix(r.Message, "sessionsec: ")]++
		h.mu.Unlock()
	}
	return nil
}

// migrateRun is what libMigrateSteps saw.
type migrateRun struct {
	Steps   []stepSpan
	Failed  string         // the failed step's file name, when Migrate failed in a step
	Retries map[string]int // the library's retry / back-off records by message
}

// libMigrateSteps runs Migrate and returns the steps it ran, from WithProgress's final step reports, and the
// retries it logged.
func libMigrateSteps(ctx context.Context, db *sql.DB, dialect string, verbose bool) (migrateRun, error) {
	var mu sync.Mutex
	var out migrateRun
	progress := func(p sessionsec.Progress) {
		if p.Unit != sessionsec.UnitSteps || !p.Final {
			return
		}
		end := time.Now()
		mu.Lock()
		out.Steps = append(out.Steps, stepSpan{Name: p.Step, Start: end.Add(-p.Elapsed), End: end})
		mu.Unlock()
	}
	rc := &retryCounter{counts: map[string]int{}}
	if verbose {
		rc.next = slog.NewTextHandler(os.Stderr, nil)
	}
	err := sessionsec.Migrate(ctx, db, sessionsec.WithLogger(slog.New(rc)), sessionsec.WithDialect(dialect), sessionsec.WithProgress(progress))
	var se *sessionsec.StepError
	if errors.As(err, &se) {
		out.Failed = se.Name
	}
	mu.Lock()
	defer mu.Unlock()
	rc.mu.Lock()
	out.Retries = rc.counts
	rc.mu.Unlock()
	return out, err
}

// plannedStep is what the plan says of a pending step.
type plannedStep struct {
	Name          string
	How           string
	Long          bool
	BlocksCluster bool
	EstimateMs    float64
}

// libPlan returns the pending steps as the library's plan describes them.
func libPlan(ctx context.Context, db *sql.DB, dialect string) ([]plannedStep, error) {
	p, err := sessionsec.New(db, sessionsec.WithDialect(dialect), sessionsec.WithLogger(quietLogger(false)))
	if err != nil {
		return nil, err
	}
	pl, err := p.Plan(ctx)
	if err != nil {
		return nil, err
	}
	var out []plannedStep
	for _, s := range pl.Steps {
		out = append(out, plannedStep{Name: s.Name, How: s.How, Long: s.Rows > 0, BlocksCluster: s.BlocksCluster,
			EstimateMs: float64(s.Estimate.Microseconds()) / 1000})
	}
	return out, nil
}

// benchKeyring is a keyring of fresh random 32-byte keys (never printed: the keyring shows only ids) with ids
// ids, the first the primary; with a second keyring of the same keys and primary next, for rotation.
type benchKeys struct {
	keys map[string][]byte
}

func newBenchKeys(ids ...string) (*benchKeys, error) {
	k := &benchKeys{keys: map[string][]byte{}}
	for _, id := range ids {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		k.keys[id] = b
	}
	return k, nil
}

// ring returns the keyring of the keys with primary as its primary.
func (k *benchKeys) ring(primary string, ids ...string) (*sessionsec.Keyring, error) {
	m := map[string][]byte{}
	for _, id := range ids {
		m[id] = k.keys[id]
	}
	return sessionsec.NewKeyring(primary, m)
}

// sealRun is one Seal or Verify over the table.
type sealRun struct {
	Rows    int64 // rows sealed (or resealed), or verified
	Batches int
	DurMs   float64
	RowsS   float64
	// Verify's findings (Verify only): rows valid / unsealed / tampered / unknown key.
	Valid, Unsealed, Tampered, UnknownKey int64
	Err                                   string
	W                                     winStats
	Start, End                            int64 `json:"-"`
}

func libSeal(ctx context.Context, db *sql.DB, dialect string, k *sessionsec.Keyring) sealRun {
	r, err := sessionsec.Seal(ctx, db, k, sessionsec.WithDialect(dialect), sessionsec.WithLogger(quietLogger(false)))
	out := sealRun{}
	if r != nil {
		out.Rows, out.Batches, out.DurMs = r.Sealed+r.Resealed, r.Batches, float64(r.Duration.Microseconds())/1000
		out.Tampered, out.UnknownKey = r.Tampered, r.UnknownKey
	}
	if err != nil {
		out.Err = err.Error()
	}
	if out.DurMs > 0 {
		out.RowsS = float64(out.Rows) / (out.DurMs / 1000)
	}
	return out
}

func libVerify(ctx context.Context, db *sql.DB, dialect string, k *sessionsec.Keyring) sealRun {
	r, err := sessionsec.Verify(ctx, db, k, sessionsec.WithDialect(dialect), sessionsec.WithLogger(quietLogger(false)))
	out := sealRun{}
	if r != nil {
		out.Rows, out.DurMs = r.Rows, float64(r.Duration.Microseconds())/1000
		out.Valid, out.Unsealed, out.Tampered, out.UnknownKey = r.Valid, r.Unsealed, r.Tampered, r.UnknownKey
	}
	if err != nil {
		out.Err = err.Error()
	}
	if out.DurMs > 0 {
		out.RowsS = float64(out.Rows) / (out.DurMs / 1000)
	}
	return out
}

// libVerifySession verifies one session and returns its status's name.
func libVerifySession(ctx context.Context, db *sql.DB, dialect string, k *sessionsec.Keyring, id string) (string, error) {
	v, err := sessionsec.VerifySession(ctx, db, k, id, sessionsec.WithDialect(dialect), sessionsec.WithLogger(quietLogger(false)))
	if err != nil {
		return "", err
	}
	switch v.Status {
	case sessionsec.SealValid:
		return "valid", nil
	case sessionsec.SealTampered:
		return "tampered", nil
	case sessionsec.SealUnsealed:
		return "unsealed", nil
	case sessionsec.SealUnknownKey:
		return "unknown_key", nil
	case sessionsec.SealMissing:
		return "missing", nil
	}
	return fmt.Sprintf("status %d", v.Status), nil
}

// sealerPass is one RunSealer pass that sealed rows, from its debug log record.
type sealerPass struct {
	At     time.Time
	Sealed int64
	Dur    time.Duration
}

// passRecorder keeps RunSealer's "sealer pass" records and its warnings (a failed pass).
type passRecorder struct {
	mu     sync.Mutex
	passes []sealerPass
	warns  []string
}

func (h *passRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *passRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *passRecorder) WithGroup(string) slog.Handler            { return h }
func (h *passRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Message == "sessionsec: sealer pass":
		p := sealerPass{At: time.Now()}
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "sealed":
				p.Sealed = a.Value.Int64()
			case "duration":
				if a.Value.Kind() == slog.KindDuration {
					p.Dur = a.Value.Duration()
				}
			}
			return true
		})
		h.passes = append(h.passes, p)
	case r.Level >= slog.LevelWarn && len(h.warns) < 5:
		h.warns = append(h.warns, r.Message)
	}
	return nil
}

// libRunSealer runs RunSealer until ctx ends and returns its passes that sealed rows and its warnings.
func libRunSealer(ctx context.Context, db *sql.DB, dialect string, k *sessionsec.Keyring, every time.Duration) ([]sealerPass, []string, error) {
	rec := &passRecorder{}
	err := sessionsec.RunSealer(ctx, db, k, sessionsec.WithDialect(dialect), sessionsec.WithLogger(slog.New(rec)), sessionsec.WithSealInterval(every))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.passes, rec.warns, err
}
