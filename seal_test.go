package sessionsec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func debugLogger(w *syncBuffer) sessionsec.Option {
	return sessionsec.WithLogger(slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

func mustRing(t testing.TB, primary string, keys map[string][]byte) *sessionsec.Keyring {
	t.Helper()
	k, err := sessionsec.NewKeyring(primary, keys)
	requireT(t, err == nil, "NewKeyring: %v", err)
	return k
}

func verdict(t testing.TB, d *testdb.DB, k *sessionsec.Keyring, id string, opts ...sessionsec.Option) *sessionsec.Verdict {
	t.Helper()
	v, err := sessionsec.VerifySession(ctxT(t), d.DB, k, id, opts...)
	requireT(t, err == nil, "VerifySession %s: %v", id, err)
	return v
}

func riskOf(t testing.TB, s sdk, id string) int {
	t.Helper()
	var r int
	requireT(t, s.db.QueryRow(s.q("SELECT risk_score FROM %s WHERE id = ?"), id).Scan(&r) == nil, "risk of %s", id)
	return r
}

func auditCount(t testing.TB, d *testdb.DB, action, id string) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM session_audit_log WHERE action = " + ph(d, 1) + " AND session_id = " + ph(d, 2)
	requireT(t, d.DB.QueryRow(q, action, id).Scan(&n) == nil, "audit count")
	return n
}

// TestSealDetectsTampering: on the SDK's table, every field the seal covers is changed by a writer of
// the table without the key, one row each, and VerifySession and Verify report each one as tampered;
// the SDK's own traffic (get -> update of last_accessed, expires_at, is_active, data, metadata;
// cleanup) never looks tampered; the key's bytes appear in no log line, error or JSON.
func TestSealDetectsTampering(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		var logs syncBuffer
		lg := debugLogger(&logs)
		a, b := testKey('a'), testKey('b')
		ring := mustRing(t, "ka", map[string][]byte{"ka": a, "kb": b})
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create()
		now := time.Now().UTC().Truncate(time.Second)
		for _, x := range s.rows(60, now) {
			x.Expires = now.Add(time.Hour) // cleanup below removes only the inactive ones
			s.insert(x)
		}
		mustMigrate(t, d.DB, lg)
		var outputs strings.Builder
		res, err := sessionsec.Seal(ctxT(t), d.DB, ring, lg)
		requireT(t, err == nil && res.Sealed == 60 && res.Tampered == 0, "Seal: %v %v", res, err)
		js, _ := json.Marshal(res)
		outputs.Write(js)
		// Running every step again (the backfill included) leaves the seals alone.
		mustMigrate(t, d.DB, lg, sessionsec.WithReapply())
		vr, err := sessionsec.Verify(ctxT(t), d.DB, ring, lg)
		requireT(t, err == nil && vr.Valid == 60, "Verify after Migrate -reapply: %v %v", vr, err)

		// The SDK's statement sequence on sealed rows.
		for i := range 60 {
			id := fmt.Sprintf("sdk-%05d", i)
			s.get(id)
			s.touch(id, now.Add(time.Minute))
		}
		mustExecArgs(t, d.DB, s.q("UPDATE %s SET is_active = ? WHERE id = ?"), false, "sdk-00059")
		requireT(t, s.cleanup(now) == 1, "SDK cleanup")
		for i := range 59 {
			id := fmt.Sprintf("sdk-%05d", i)
			v := verdict(t, d, ring, id, lg)
			requireT(t, v.Status == sessionsec.SealValid && v.KeyID == "ka", "%s after the SDK's traffic: %+v", id, v)
		}
		vr, err = sessionsec.Verify(ctxT(t), d.DB, ring, lg, sessionsec.WithBatchSize(7))
		requireT(t, err == nil && vr.Rows == 59 && vr.Valid == 59 && vr.Tampered == 0, "Verify after the SDK's traffic: %v %v", vr, err)

		// One row per covered field changed.
		var seal5 string
		requireT(t, d.DB.QueryRow(s.q("SELECT security_hash FROM %s WHERE id = ?"), "sdk-00005").Scan(&seal5) == nil, "seal of row 5")
		v1IP, _ := schema.IPHash("203.0.113.7")
		tamper := []struct {
			id, why, query string
			args           []any
			check          string
		}{
			{"sdk-00001", "user changed", "UPDATE %s SET user_id = ? WHERE id = ?", []any{"mallory"}, sessionsec.CheckSeal},
			{"sdk-00002", "creation time moved", "UPDATE %s SET created_at = ? WHERE id = ?", []any{now.Add(-48 * time.Hour)}, sessionsec.CheckSeal},
			{"sdk-00003", "seal copied from another row", "UPDATE %s SET security_hash = ? WHERE id = ?", []any{seal5}, sessionsec.CheckSeal},
			{"sdk-00004", "key id switched to another key of the ring", "UPDATE %s SET encryption_key_id = ? WHERE id = ?", []any{"kb"}, sessionsec.CheckSeal},
			{"sdk-00012", "IP changed", "UPDATE %s SET ip_address = ? WHERE id = ?", []any{"198.51.100.99"}, sessionsec.CheckSeal},
			{"sdk-00024", "IP binding replaced by the unkeyed hash", "UPDATE %s SET created_ip_hash = ? WHERE id = ?", []any{v1IP}, sessionsec.CheckIPHash},
		}
		for _, c := range tamper {
			mustExecArgs(t, d.DB, s.q(c.query), append(c.args, c.id)...)
		}
		// A planted row: inserted by a writer of the table, its v1 hash filled by the trigger, then
		// claimed as sealed.
		planted := s.rows(1, now)[0]
		planted.ID, planted.UserID = "planted-1", "admin"
		s.insert(planted)
		requireT(t, verdict(t, d, ring, "planted-1").Status == sessionsec.SealUnsealed, "a planted version 1 row must verify as unsealed")
		mustExecArgs(t, d.DB, s.q("UPDATE %s SET security_version = 2, encryption_key_id = ? WHERE id = ?"), "ka", "planted-1")
		tamper = append(tamper, struct {
			id, why, query string
			args           []any
			check          string
		}{"planted-1", "planted row with a version 1 hash", "", nil, sessionsec.CheckSeal})

		for _, c := range tamper {
			v := verdict(t, d, ring, c.id, lg)
			requireT(t, v.Status == sessionsec.SealTampered && v.Check == c.check, "%s (%s): %+v", c.why, c.id, v)
			requireT(t, riskOf(t, s, c.id) == schema.Change.Risk.Max, "%s: risk_score not raised", c.why)
			requireT(t, auditCount(t, d, sessionsec.AuditTampered, c.id) == 1, "%s: no audit row", c.why)
			js, _ := json.Marshal(v)
			outputs.Write(js)
		}
		// The untouched rows still verify; the others are distinct results.
		requireT(t, verdict(t, d, ring, "sdk-00005").Status == sessionsec.SealValid, "the row whose seal was copied")
		requireT(t, verdict(t, d, ring, "no-such-session").Status == sessionsec.SealMissing, "missing")
		mustExecArgs(t, d.DB, s.q("UPDATE %s SET encryption_key_id = ? WHERE id = ?"), "retired-key", "sdk-00006")
		requireT(t, verdict(t, d, ring, "sdk-00006").Status == sessionsec.SealUnknownKey, "unknown key")

		vr, err = sessionsec.Verify(ctxT(t), d.DB, ring, lg)
		requireT(t, err == nil && vr.Rows == 60 && vr.Tampered == int64(len(tamper)) && vr.UnknownKey == 1 && vr.Valid == vr.Rows-int64(len(tamper))-1,
			"Verify: %v %v", vr, err)
		var want []string
		for _, c := range tamper {
			want = append(want, c.id)
		}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(vr.TamperedKeys))
		requireT(t, slices.Equal(got, want), "tampered keys %v, want %v", got, want)
		js, _ = json.Marshal(vr)
		outputs.Write(js)

		// Sealing again never blesses a tampered row.
		res, err = sessionsec.Seal(ctxT(t), d.DB, ring, lg)
		requireT(t, err == nil && res.Sealed == 0 && res.Resealed == 0, "Seal again: %v %v", res, err)
		requireT(t, verdict(t, d, ring, "sdk-00004").Status == sessionsec.SealTampered, "a tampered row after Seal")
		err = sessionsec.SealSession(ctxT(t), d.DB, ring, "sdk-00004")
		requireT(t, errors.Is(err, sessionsec.ErrSessionTampered), "SealSession of a tampered row: %v", err)
		outputs.WriteString(err.Error())
		requireT(t, verdict(t, d, ring, "sdk-00004").Status == sessionsec.SealTampered, "SealSession must not bless a tampered row")
		requireT(t, errors.Is(sessionsec.SealSession(ctxT(t), d.DB, ring, "nope"), sessionsec.ErrSessionMissing), "SealSession of a missing row")

		// The application seals what it writes.
		fresh := s.rows(1, now)[0]
		fresh.ID = "fresh-1"
		s.insert(fresh)
		requireT(t, verdict(t, d, ring, "fresh-1").Status == sessionsec.SealUnsealed, "a new row before SealSession")
		requireT(t, sessionsec.SealSession(ctxT(t), d.DB, ring, "fresh-1", lg) == nil, "SealSession")
		requireT(t, verdict(t, d, ring, "fresh-1").Status == sessionsec.SealValid, "a new row after SealSession")

		var count int
		requireT(t, d.DB.QueryRow(s.q("SELECT COUNT(*) FROM %s")).Scan(&count) == nil && count == 61, "rows deleted: %d left", count)
		outputs.WriteString(logs.String())
		requireT(t, strings.Contains(logs.String(), "verify done"), "the logs were not captured")
		requireNoKey(t, "the outputs", outputs.String(), a, b)
	})
}

// TestSealSpecLayout: the runbook's layout has no IP column: the seal covers created_ip_hash as the
// application wrote it, and NULL users and creation times seal and verify.
func TestSealSpecLayout(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 300)
		mustMigrate(t, d.DB)
		ring := mustRing(t, "ka", map[string][]byte{"ka": testKey('a')})
		mustExec(t, d.DB, "UPDATE sessions SET created_ip_hash = "+ph(d, 1)+" WHERE session_id = "+ph(d, 2), strings.Repeat("ab", 32), "sess-00000001")
		m, err := sessionsec.ReadMetrics(ctxT(t), d.DB)
		requireT(t, err == nil && m.Sealed == 0 && m.SealedShare() == 0 && m.OldestUnsealedAge > time.Until(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))*-1-time.Hour,
			"metrics before Seal: %v %v", m, err)
		res, err := sessionsec.Seal(ctxT(t), d.DB, ring, sessionsec.WithBatchSize(64))
		requireT(t, err == nil && res.Sealed == 300 && res.Batches == 5, "Seal: %v %v", res, err)
		m, err = sessionsec.ReadMetrics(ctxT(t), d.DB)
		requireT(t, err == nil && m.Sealed == 300 && m.SealedByKey["ka"] == 300 && m.OldestUnsealedAge == 0 && m.TamperedLastDay == 0,
			"metrics after Seal: %v %v", m, err)
		vr, err := sessionsec.Verify(ctxT(t), d.DB, ring)
		requireT(t, err == nil && vr.Valid == 300, "Verify: %v %v", vr, err)
		requireT(t, verdict(t, d, ring, "sess-00000007").Status == sessionsec.SealValid, "a row with a NULL user")
		mustExec(t, d.DB, "UPDATE sessions SET created_ip_hash = "+ph(d, 1)+" WHERE session_id = "+ph(d, 2), strings.Repeat("cd", 32), "sess-00000001")
		requireT(t, verdict(t, d, ring, "sess-00000001").Status == sessionsec.SealTampered, "the application's IP binding changed")
		mustExec(t, d.DB, "UPDATE sessions SET user_id = NULL WHERE session_id = "+ph(d, 1), "sess-00000002")
		requireT(t, verdict(t, d, ring, "sess-00000002").Status == sessionsec.SealTampered, "a user set to NULL")
		m, err = sessionsec.ReadMetrics(ctxT(t), d.DB)
		requireT(t, err == nil && m.TamperedLastDay == 2, "metrics after tampering: %v %v", m, err)
	})
}

// TestSealRotation: a new primary re-seals the older key's rows in batches under live writes; killed
// midway, the database holds rows of both keys that all verify; the old key cannot be retired while it
// seals rows; resumed, Seal finishes, and the old key retires.
func TestSealRotation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		var logs syncBuffer
		lg := debugLogger(&logs)
		a, b := testKey('a'), testKey('b')
		const rows = 2000
		createExisting(t, d, rows)
		mustMigrate(t, d.DB)
		old := mustRing(t, "2026-06", map[string][]byte{"2026-06": a})
		res, err := sessionsec.Seal(ctxT(t), d.DB, old, lg)
		requireT(t, err == nil && res.Sealed == rows, "first Seal: %v %v", res, err)
		// A row tampered under the old key must not be laundered by the rotation.
		mustExec(t, d.DB, "UPDATE sessions SET user_id = 'mallory' WHERE session_id = "+ph(d, 1), "sess-00000003")

		both := mustRing(t, "2026-12", map[string][]byte{"2026-06": a, "2026-12": b})
		// Live writers during the rotation.
		wctx, stop := context.WithCancel(ctxT(t))
		var wg sync.WaitGroup
		wg.Add(1)
		written := 0
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				seed(t, d, rows+i, 1)
				written++
				time.Sleep(5 * time.Millisecond)
			}
		}()
		ctx, kill := context.WithCancel(ctxT(t))
		batches := 0
		_, err = sessionsec.Seal(ctx, d.DB, both, lg, sessionsec.WithBatchSize(100), sessionsec.WithProgress(func(p sessionsec.Progress) {
			if batches++; batches == 5 {
				kill()
			}
		}))
		requireT(t, errors.Is(err, context.Canceled), "the killed Seal: %v", err)
		vr, err := sessionsec.Verify(ctxT(t), d.DB, both)
		requireT(t, err == nil && vr.ByKey["2026-12"] > 0 && vr.ByKey["2026-06"] > 0 && vr.Tampered == 1,
			"midway, both keys verify: %v %v", vr, err)
		_, err = sessionsec.RetireKey(ctxT(t), d.DB, both, "2026-06")
		requireT(t, errors.Is(err, sessionsec.ErrKeyInUse) && strings.Contains(err.Error(), fmt.Sprint(vr.ByKey["2026-06"]+1)),
			"retiring a key in use: %v (by key %v)", err, vr.ByKey)
		_, err = sessionsec.RetireKey(ctxT(t), d.DB, both, "2026-12")
		requireT(t, errors.Is(err, sessionsec.ErrKeyring), "retiring the primary: %v", err)

		res, err = sessionsec.Seal(ctxT(t), d.DB, both, lg, sessionsec.WithBatchSize(100))
		requireT(t, err == nil && res.Tampered == 1 && res.Resealed > 0 && slices.Equal(res.TamperedKeys, []string{"sess-00000003"}), "resumed Seal: %v %v", res, err)
		stop()
		wg.Wait()
		res, err = sessionsec.Seal(ctxT(t), d.DB, both) // the rows the writers added last
		requireT(t, err == nil, "final Seal: %v", err)
		vr, err = sessionsec.Verify(ctxT(t), d.DB, both)
		requireT(t, err == nil && vr.Rows == int64(rows+written) && vr.ByKey["2026-06"] == 0 && vr.Valid == vr.Rows-1 && vr.Tampered == 1,
			"after the rotation: %v %v (written %d)", vr, err, written)
		// The tampered row still names the old key: it keeps the key in use until it is dealt with.
		_, err = sessionsec.RetireKey(ctxT(t), d.DB, both, "2026-06")
		requireT(t, errors.Is(err, sessionsec.ErrKeyInUse) && strings.Contains(err.Error(), "1 session"), "retiring with a tampered row left: %v", err)
		mustExec(t, d.DB, "DELETE FROM sessions WHERE session_id = "+ph(d, 1), "sess-00000003")
		next, err := sessionsec.RetireKey(ctxT(t), d.DB, both, "2026-06")
		requireT(t, err == nil && slices.Equal(next.IDs(), []string{"2026-12"}), "retiring: %v %v", next, err)
		vr, err = sessionsec.Verify(ctxT(t), d.DB, next)
		requireT(t, err == nil && vr.Valid == vr.Rows, "with the new key only: %v %v", vr, err)
		requireNoKey(t, "the logs", logs.String(), a, b)
	})
}

// TestRunSealer: the sealer seals what the SDK writes within its bound, and stops with ctx.
func TestRunSealer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create()
		mustMigrate(t, d.DB)
		ring := mustRing(t, "ka", map[string][]byte{"ka": testKey('a')})
		ctx, cancel := context.WithCancel(ctxT(t))
		done := make(chan error, 1)
		go func() {
			done <- sessionsec.RunSealer(ctx, d.DB, ring, sessionsec.WithSealInterval(50*time.Millisecond))
		}()
		now := time.Now().UTC().Truncate(time.Second)
		for _, x := range s.rows(40, now) {
			s.insert(x)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			vr, err := sessionsec.Verify(ctxT(t), d.DB, ring)
			requireT(t, err == nil, "Verify: %v", err)
			if vr.Valid == 40 {
				break
			}
			requireT(t, time.Now().Before(deadline), "the sealer did not seal the rows within 10s: %v", vr)
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			requireT(t, err == nil, "RunSealer returned %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("RunSealer did not stop with its context")
		}
	})
}

// TestSealNeedsTheChangeAndAKeyring: on a database the change was not applied to, every sealing call
// refuses with ErrNotMigrated and writes nothing; without a keyring they refuse with ErrNoKeyring.
func TestSealNeedsTheChangeAndAKeyring(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		ring := mustRing(t, "ka", map[string][]byte{"ka": testKey('a')})
		createExisting(t, d, 10)
		before, _ := baseChecksum(t, d)
		calls := func(k *sessionsec.Keyring) map[string]func() error {
			return map[string]func() error{
				"Seal":          func() error { _, err := sessionsec.Seal(ctx, d.DB, k); return err },
				"Verify":        func() error { _, err := sessionsec.Verify(ctx, d.DB, k); return err },
				"SealSession":   func() error { return sessionsec.SealSession(ctx, d.DB, k, "sess-00000001") },
				"VerifySession": func() error { _, err := sessionsec.VerifySession(ctx, d.DB, k, "sess-00000001"); return err },
				"RetireKey":     func() error { _, err := sessionsec.RetireKey(ctx, d.DB, k, "other"); return err },
				"RunSealer":     func() error { return sessionsec.RunSealer(ctx, d.DB, k) },
			}
		}
		for name, f := range calls(ring) {
			if name == "RunSealer" || name == "RetireKey" {
				continue // RunSealer keeps retrying until its ctx ends; RetireKey checks the ring first
			}
			requireT(t, errors.Is(f(), sessionsec.ErrNotMigrated), "%s on an unmigrated database", name)
		}
		for name, f := range calls(nil) {
			requireT(t, errors.Is(f(), sessionsec.ErrNoKeyring), "%s without a keyring", name)
		}
		after, _ := baseChecksum(t, d)
		requireT(t, after == before, "the sessions changed")
		_, err := sessionsec.Seal(ctx, d.DB, ring, sessionsec.WithOlderThan(time.Hour))
		requireT(t, errors.Is(err, sessionsec.ErrInvalidOption), "an option Seal has no use for: %v", err)
	})
}

// TestSealOtherTable: the SDK's table under another name (WithTable), and the default table on the
// same *sql.DB, are sealed and verified each on its own (the request path's cache is per table).
func TestSealOtherTable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ring := mustRing(t, "ka", map[string][]byte{"ka": testKey('a')})
		now := time.Now().UTC().Truncate(time.Second)
		other := sessionsec.WithTable("agui_sessions")
		for _, table := range []string{"agui_sessions", "sessions"} {
			s := sdk{t: t, d: d, db: d.DB, table: table}
			s.create()
			for _, x := range s.rows(5, now) {
				if table == "sessions" {
					x.ID = "main-" + x.ID
				}
				s.insert(x)
			}
		}
		mustMigrate(t, d.DB, other)
		// The default table shares the migrations table, whose change is on agui_sessions: refused, naming it.
		_, err := sessionsec.VerifySession(ctxT(t), d.DB, ring, "main-sdk-00001")
		requireT(t, errors.Is(err, sessionsec.ErrWrongTable) && strings.Contains(err.Error(), `WithTable("agui_sessions")`), "the unmigrated table: %v", err)
		if d.Server.Dialect == "postgres" {
			// The change's stored procedures are named per schema, not per table: a second session
			// table in the same schema is refused by preflight (a conflicting procedure).
			t.Log("postgres: a second session table in one schema is not supported; the rest runs on the other servers")
			return
		}
		mainMig := sessionsec.WithMigrationsTable("sessionsec_main_migrations")
		mustMigrate(t, d.DB, mainMig)
		requireT(t, verdict(t, d, ring, "sdk-00001", other).Status == sessionsec.SealUnsealed, "before Seal")
		res, err := sessionsec.Seal(ctxT(t), d.DB, ring, other)
		requireT(t, err == nil && res.Sealed == 5, "Seal of agui_sessions: %v %v", res, err)
		requireT(t, verdict(t, d, ring, "sdk-00001", other).Status == sessionsec.SealValid, "agui_sessions after Seal")
		requireT(t, verdict(t, d, ring, "main-sdk-00001", mainMig).Status == sessionsec.SealUnsealed, "sessions is not sealed by agui_sessions' Seal")
		requireT(t, verdict(t, d, ring, "sdk-00001", mainMig).Status == sessionsec.SealMissing, "agui_sessions' key in sessions")
		requireT(t, sessionsec.SealSession(ctxT(t), d.DB, ring, "main-sdk-00001", mainMig) == nil, "SealSession in sessions")
		requireT(t, verdict(t, d, ring, "main-sdk-00001", mainMig).Status == sessionsec.SealValid, "sessions after SealSession")
	})
}
