package sessionsec

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agui-go/sessionsec/internal/sqlstmt"
	"github.com/agui-go/sessionsec/schema"
)

// Task names of sealing, in Progress and the logs.
const (
	TaskSeal   = "seal"
	TaskVerify = "verify"
)

// Seal is [Provider.Seal] on db: opts may mix [New]'s options and the method's.
func Seal(ctx context.Context, db *sql.DB, k *Keyring, opts ...Option) (*SealResult, error) {
	p, call, err := on(db, opSeal, opts)
	if err != nil {
		return nil, err
	}
	return p.Seal(ctx, k, call...)
}

// Seal seals every session that needs it with the keyring's primary key, in keyset batches (1000 rows,
// WithBatchSize) under the migration lock, each batch one transaction with its SESSION_SEAL audit row:
// version 1 rows (written by the triggers, or before the migration) are sealed as they are; rows
// sealed with another key of the ring are verified and sealed again with the primary (rotation); a row
// whose older seal does not verify is audited (SESSION_TAMPERED, risk_score raised) and left as it is;
// a row sealed with a key the ring does not hold is left as it is. Interrupted, it keeps the batches it
// committed; run again, it finds only the rows still to do.
func (p *Provider) Seal(ctx context.Context, k *Keyring, opts ...Option) (*SealResult, error) {
	cfg, err := p.callConfig(opSeal, opts)
	if err != nil {
		return nil, err
	}
	return p.seal(ctx, cfg, k, false)
}

// RunSealer is [Provider.RunSealer] on db: opts may mix [New]'s options and the method's.
func RunSealer(ctx context.Context, db *sql.DB, k *Keyring, opts ...Option) error {
	p, call, err := on(db, opSeal, opts)
	if err != nil {
		return err
	}
	return p.RunSealer(ctx, k, call...)
}

// RunSealer seals new sessions continuously until ctx ends, then returns nil: a pass seals the
// version 1 rows (as Seal, without the rotation of older keys' rows, which is Seal's job), then waits
// WithSealInterval (1s). Bound: a session written at time t is sealed by the end of the first pass
// that starts after t - at most the interval plus two passes (the running pass may have walked past its
// key already), plus any wait for the migration lock
// while a migration or maintenance task holds it. A pass that fails is logged and retried at the next
// interval (a server restart or a running migration does not stop the sealer). The pass finds its rows
// through the security_version index.
func (p *Provider) RunSealer(ctx context.Context, k *Keyring, opts ...Option) error {
	cfg, err := p.callConfig(opSeal, opts)
	if err != nil {
		return err
	}
	return p.runSealer(ctx, cfg, k)
}

func (p *Provider) runSealer(ctx context.Context, cfg config, k *Keyring) error {
	if err := checkRing(k); err != nil {
		return err
	}
	cfg.logger.InfoContext(ctx, "sessionsec: sealer started", "keys", k, "interval", cfg.sealEvery)
	for {
		res, err := p.seal(ctx, cfg, k, true)
		switch {
		case ctx.Err() != nil:
			cfg.logger.InfoContext(context.WithoutCancel(ctx), "sessionsec: sealer stopped")
			return nil
		case err != nil:
			cfg.logger.WarnContext(ctx, "sessionsec: sealer pass failed; retrying", "err", err, "retry_in", cfg.sealEvery)
		case res.Sealed > 0:
			cfg.logger.DebugContext(ctx, "sessionsec: sealer pass", "sealed", res.Sealed, "duration", res.Duration)
		}
		select {
		case <-ctx.Done():
			cfg.logger.InfoContext(context.WithoutCancel(ctx), "sessionsec: sealer stopped")
			return nil
		case <-time.After(cfg.sealEvery):
		}
	}
}

// seal runs Seal; newOnly limits it to version 1 rows (RunSealer's passes).
func (p *Provider) seal(ctx context.Context, cfg config, k *Keyring, newOnly bool) (_ *SealResult, err error) {
	if err := checkRing(k); err != nil {
		return nil, err
	}
	m, work, err := p.readyLocked(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.s.close()
	defer func() { err = lockLost(work, err) }()
	ctx = work
	st, err := p.newSealTarget(m.f.t)
	if err != nil {
		return nil, err
	}
	res := &SealResult{Primary: k.primary}
	sb, tbl, key := p.stmt(), st.t.Names.Table, st.t.Col(schema.RoleKey)
	start, logged := time.Now(), time.Now()
	var last any
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var n int
		var stats [5]int64
		var tampered []string
		var next any
		err := m.retry(ctx, func() error {
			n, stats, tampered = 0, [5]int64{}, nil
			tx, err := m.s.conn.BeginTx(ctx, &sql.TxOptions{Isolation: p.d.Isolation()})
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			if err := p.writeFirst(ctx, tx, st); err != nil {
				return err
			}
			// Equality for the sealer's new rows, not "< 2": with it MySQL and MariaDB walk
			// idx_<table>_security_version (whose entries end with the primary key, so the range comes in
			// key order) instead of scanning the primary key past every sealed row on each pass. Rows of
			// other versions below 2 (written by hand) are Seal's.
			where := sqlstmt.NotSealedWith(SealVersion, k.primary)
			if newOnly {
				where = sqlstmt.NewRows()
			}
			query, args := sb.Page(sqlstmt.Page{Table: tbl, Key: key, List: st.cols, After: last, Where: where, Limit: m.cfg.batch, Lock: true})
			rows, err := tx.QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			var batch []sealRow
			for rows.Next() {
				var r sealRow
				if err := st.scan(rows, &r); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, r)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			n = len(batch)
			if n == 0 {
				return nil
			}
			next = batch[n-1].raw // the walk moves on only once the batch is committed
			var pending []pendingSeal
			for i := range batch {
				out, _, ps, err := p.planSeal(ctx, tx, st, k, &batch[i])
				if err != nil {
					return err
				}
				stats[out]++
				if out == outTampered {
					tampered = append(tampered, batch[i].key.String)
				}
				if ps != nil {
					pending = append(pending, *ps)
				}
			}
			if err := p.writeSeals(ctx, tx, st, k.primary, pending); err != nil {
				return err
			}
			if stats[outSealed]+stats[outResealed]+stats[outTampered]+stats[outUnknown] > 0 {
				details := fmt.Sprintf(`{"sealed": %d, "resealed": %d, "tampered": %d, "unknown_key": %d}`,
					stats[outSealed], stats[outResealed], stats[outTampered], stats[outUnknown])
				if err := m.audit(ctx, tx, AuditSeal, details); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
		if err != nil {
			return res, &MaintenanceError{Task: TaskSeal, Done: MaintenanceResult{Task: TaskSeal, Rows: res.Sealed + res.Resealed,
				Batches: res.Batches}, Err: p.serverError(err)}
		}
		if n == 0 {
			break
		}
		last = next
		res.Batches++
		res.Sealed += stats[outSealed]
		res.Resealed += stats[outResealed]
		res.Tampered += stats[outTampered]
		res.UnknownKey += stats[outUnknown]
		for _, t := range tampered {
			if len(res.TamperedKeys) < maxReportedKeys {
				res.TamperedKeys = append(res.TamperedKeys, t)
			}
		}
		if cfg.progress != nil {
			cfg.progress(Progress{Task: TaskSeal, Step: "batch", Unit: UnitRows, Done: res.Sealed + res.Resealed, Elapsed: time.Since(start)})
		}
		if time.Since(logged) >= backfillLogEvery {
			logged = time.Now()
			cfg.logger.InfoContext(ctx, "sessionsec: sealing", "sealed", res.Sealed, "resealed", res.Resealed,
				"per_second", perSecond(res.Sealed+res.Resealed, time.Since(start)))
		}
		if n < m.cfg.batch {
			break
		}
	}
	res.Duration = time.Since(start)
	if cfg.progress != nil {
		cfg.progress(Progress{Task: TaskSeal, Step: "batch", Unit: UnitRows, Done: res.Sealed + res.Resealed, Elapsed: res.Duration, Final: true})
	}
	if !newOnly || res.Sealed > 0 {
		cfg.logger.InfoContext(ctx, "sessionsec: seal done", "sealed", res.Sealed, "resealed", res.Resealed, "tampered", res.Tampered,
			"unknown_key", res.UnknownKey, "primary", k.primary, "duration", res.Duration.Round(time.Millisecond))
	}
	return res, nil
}

// Verify is [Provider.Verify] on db: opts may mix [New]'s options and the method's.
func Verify(ctx context.Context, db *sql.DB, k *Keyring, opts ...Option) (*VerifyResult, error) {
	p, call, err := on(db, opVerify, opts)
	if err != nil {
		return nil, err
	}
	return p.Verify(ctx, k, call...)
}

// Verify reads every session in keyset batches and verifies its seal with the ring, as VerifySession
// does: it reports the counts, the sealed rows per key and the keys of the tampered rows, and writes a
// SESSION_TAMPERED audit row for each tampered row. It deletes nothing and changes no session (a
// tampered row keeps its risk_score: raising it would let cleanup remove the evidence). It takes no
// lock: it runs beside the application and any migration.
func (p *Provider) Verify(ctx context.Context, k *Keyring, opts ...Option) (*VerifyResult, error) {
	cfg, err := p.callConfig(opVerify, opts)
	if err != nil {
		return nil, err
	}
	return p.verify(ctx, cfg, k)
}

func (p *Provider) verify(ctx context.Context, cfg config, k *Keyring) (*VerifyResult, error) {
	if err := checkRing(k); err != nil {
		return nil, err
	}
	m, err := p.ready(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.s.close()
	st, err := p.newSealTarget(m.f.t)
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{ByKey: map[string]int64{}}
	sb, tbl, key := p.stmt(), st.t.Names.Table, st.t.Col(schema.RoleKey)
	start := time.Now()
	var last any
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		query, args := sb.Page(sqlstmt.Page{Table: tbl, Key: key, List: st.cols, After: last, Limit: cfg.batch})
		rows, err := m.s.conn.QueryContext(ctx, query, args...)
		if err != nil {
			return res, p.readErr(ctx, "reading sessions", err)
		}
		var batch []sealRow
		for rows.Next() {
			var r sealRow
			if err := st.scan(rows, &r); err != nil {
				rows.Close()
				return res, p.readErr(ctx, "reading sessions", err)
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, p.readErr(ctx, "reading sessions", err)
		}
		for i := range batch {
			r := &batch[i]
			res.Rows++
			status, check := classify(k, r, st.hasIP)
			switch status {
			case SealValid:
				res.Valid++
				res.ByKey[r.keyID.String]++
			case SealTampered:
				res.Tampered++
				if len(res.TamperedKeys) < maxReportedKeys {
					res.TamperedKeys = append(res.TamperedKeys, r.key.String)
				}
				if err := p.auditTampered(ctx, m.s.conn, st, r.key.String, check); err != nil {
					return res, p.readErr(ctx, "auditing a tampered session", err)
				}
			case SealUnsealed:
				res.Unsealed++
			case SealUnknownKey:
				res.UnknownKey++
			}
		}
		if cfg.progress != nil {
			cfg.progress(Progress{Task: TaskVerify, Step: "batch", Unit: UnitRows, Done: res.Rows, Elapsed: time.Since(start)})
		}
		if len(batch) < cfg.batch {
			break
		}
		last = batch[len(batch)-1].raw
	}
	res.Duration = time.Since(start)
	if cfg.progress != nil {
		cfg.progress(Progress{Task: TaskVerify, Step: "batch", Unit: UnitRows, Done: res.Rows, Elapsed: res.Duration, Final: true})
	}
	lvl := cfg.logger.InfoContext
	if res.Tampered > 0 {
		lvl = cfg.logger.WarnContext
	}
	lvl(ctx, "sessionsec: verify done", "rows", res.Rows, "valid", res.Valid, "tampered", res.Tampered,
		"unsealed", res.Unsealed, "unknown_key", res.UnknownKey, "duration", res.Duration.Round(time.Millisecond))
	return res, nil
}

// RetireKey is [Provider.RetireKey] on db: opts may mix [New]'s options and the method's.
func RetireKey(ctx context.Context, db *sql.DB, k *Keyring, id string, opts ...Option) (*Keyring, error) {
	p, call, err := on(db, opSeal, opts)
	if err != nil {
		return nil, err
	}
	return p.RetireKey(ctx, k, id, call...)
}

// RetireKey returns the keyring without key id once no session is sealed with it any more; while rows
// still are, it refuses with ErrKeyInUse and their count: make another key the primary, run Seal (it
// re-seals them with the primary), then retire. The primary key cannot be retired. It reads the table
// through the encryption_key_id index and changes nothing. It takes Seal's options.
func (p *Provider) RetireKey(ctx context.Context, k *Keyring, id string, opts ...Option) (*Keyring, error) {
	cfg, err := p.callConfig(opSeal, opts)
	if err != nil {
		return nil, err
	}
	if err := checkRing(k); err != nil {
		return nil, err
	}
	next, err := k.without(id)
	if err != nil {
		return nil, err
	}
	st, _, err := p.cachedTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var n int64
	query, args := p.stmt().KeyInUse(st.t.Names.Table, id, SealVersion)
	if err := p.db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return nil, p.readErr(ctx, "counting the key's sessions", err)
	}
	if n > 0 {
		return nil, fmt.Errorf("%w: %d session(s) are sealed with %q: run Seal with %q as the primary first, then retire", ErrKeyInUse, n, id, k.primary)
	}
	return next, nil
}
