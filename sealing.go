package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/sqlstmt"
	"github.com/agui-go/sessionsec/schema"
)

// Sealing errors.
var (
	// ErrSessionTampered: SealSession found the session's seal broken; it is left as it is (and
	// audited) rather than sealed again over the tampered fields.
	ErrSessionTampered = errors.New("sessionsec: session seal does not match its fields")
	// ErrSessionMissing: SealSession found no session with this key.
	ErrSessionMissing = errors.New("sessionsec: no such session")
	// ErrUnknownKey: the session is sealed with a key that is not in the ring: add the key back to the
	// ring, or accept that such sessions verify as SealUnknownKey.
	ErrUnknownKey = errors.New("sessionsec: session sealed with a key not in the ring")
)

// DefaultSealInterval is RunSealer's pause between passes.
const DefaultSealInterval = time.Second

// WithSealInterval sets RunSealer's pause between passes (default 1s, 10ms to 1h). A session written
// at time t is sealed by the first pass that starts after t, so it stays unsealed for at most the
// interval plus two passes - the pass running when it was written may have walked past its key - plus any
// wait for the migration lock a migration holds.
func WithSealInterval(d time.Duration) Option {
	return Option{name: "WithSealInterval", ops: opSeal, apply: func(c *config) error {
		if d < 10*time.Millisecond || d > time.Hour {
			return invalid("WithSealInterval(%s): want 10ms to 1h", d)
		}
		c.sealEvery = d
		return nil
	}}
}

// SealResult says what Seal (or one RunSealer pass) did. Its JSON form is the command's -json output.
type SealResult struct {
	// Sealed version 1 rows; Resealed rows of an older key of the ring sealed again with the primary.
	Sealed   int64 `json:"sealed"`
	Resealed int64 `json:"resealed"`
	// Tampered rows of an older key whose seal did not verify: left as they are and audited.
	Tampered int64 `json:"tampered"`
	// UnknownKey rows sealed with a key not in the ring: left as they are.
	UnknownKey int64 `json:"unknown_key"`
	// TamperedKeys are the session keys of the tampered rows (at most maxReportedKeys).
	TamperedKeys []string      `json:"tampered_keys,omitempty"`
	Batches      int           `json:"batches"`
	Primary      string        `json:"primary"`
	Duration     time.Duration `json:"duration_ns"`
}

func (r *SealResult) String() string {
	return fmt.Sprintf("seal: %d row(s) sealed, %d resealed with %s, %d tampered, %d with an unknown key, in %d batch(es), %s",
		r.Sealed, r.Resealed, r.Primary, r.Tampered, r.UnknownKey, r.Batches, r.Duration.Round(time.Millisecond))
}

// VerifyResult says what Verify found. Its JSON form is the command's -json output.
type VerifyResult struct {
	Rows       int64 `json:"rows"`
	Valid      int64 `json:"valid"`
	Tampered   int64 `json:"tampered"`
	Unsealed   int64 `json:"unsealed"`
	UnknownKey int64 `json:"unknown_key"`
	// TamperedKeys are the session keys of the tampered rows (at most maxReportedKeys).
	TamperedKeys []string `json:"tampered_keys,omitempty"`
	// ByKey counts the sealed rows per key id of the ring.
	ByKey    map[string]int64 `json:"by_key"`
	Duration time.Duration    `json:"duration_ns"`
}

func (r *VerifyResult) String() string {
	return fmt.Sprintf("verify: %d row(s): %d valid, %d tampered, %d unsealed, %d with an unknown key, %s",
		r.Rows, r.Valid, r.Tampered, r.Unsealed, r.UnknownKey, r.Duration.Round(time.Millisecond))
}

// Verdict is VerifySession's answer.
type Verdict struct {
	Status SealStatus `json:"status"`
	// KeyID is the key that sealed the row (SealValid, SealTampered).
	KeyID string `json:"key_id,omitempty"`
	// Check is the check a tampered row failed: CheckSeal or CheckIPHash.
	Check string `json:"check,omitempty"`
}

// maxReportedKeys caps the tampered keys a result lists; the counts stay exact.
const maxReportedKeys = 1000

// sealTarget is what the seal needs to know about the session table, resolved once per handle.
type sealTarget struct {
	t     dialect.Target
	ex    dialect.SealExprs
	cols  string // the select list: key, key text, user, epoch, ip, version, key id, seal, ip hash
	hasIP bool
}

func (p *Provider) newSealTarget(t dialect.Target) (*sealTarget, error) {
	sr, ok := p.d.(dialect.SealReader)
	if !ok {
		return nil, fmt.Errorf("%w: the %s dialect cannot read seals (it is no dialect.SealReader)", ErrNotSupported, p.d.Name())
	}
	ex := sr.SealExprs(t)
	cols := p.stmt().SealList(t.Col(schema.RoleKey), ex.Key, ex.User, ex.Epoch, ex.IP)
	return &sealTarget{t: t, ex: ex, cols: cols, hasIP: ex.IP != ""}, nil
}

func (st *sealTarget) scan(s interface{ Scan(...any) error }, r *sealRow) error {
	if err := s.Scan(&r.raw, &r.key, &r.user, &r.epoch, &r.ip, &r.version, &r.keyID, &r.seal, &r.ipHash); err != nil {
		return err
	}
	r.raw = keyArg(r.raw, st.t.RoleKind(schema.RoleKey) == dialect.FamBinary)
	return nil
}

// targets caches the request path's resolved session table per database and table, so that
// VerifySession and SealSession cost one read and at most one write after the first call.
var targets sync.Map // targetKey -> *sealTarget

type targetKey struct {
	db                         *sql.DB
	dialect, table, migrations string
	layout                     string
}

func (p *Provider) cachedTarget(ctx context.Context, cfg config) (*sealTarget, targetKey, error) {
	tk := targetKey{db: p.db, dialect: p.d.Name(), table: p.tableName(cfg), migrations: cfg.migrationsTable}
	if cfg.layout != nil {
		tk.layout = fmt.Sprint(cfg.layout.Columns)
	}
	if v, ok := targets.Load(tk); ok {
		return v.(*sealTarget), tk, nil
	}
	st, err := p.readVersion(ctx, p.db, cfg)
	if err != nil {
		return nil, tk, err
	}
	if !st.HasVersion || st.Dirty || st.Version < schema.Latest() {
		return nil, tk, fmt.Errorf("%w: %s is not at version %d: run Migrate (the command: up) first", ErrNotMigrated, cfg.migrationsTable, schema.Latest())
	}
	f, err := p.inspect(ctx, p.db, cfg)
	if err != nil {
		return nil, tk, err
	}
	if f.layoutProblem != nil {
		return nil, tk, &PreflightError{Problems: []Problem{*f.layoutProblem}}
	}
	if err := sealColumns(f, cfg); err != nil {
		return nil, tk, err
	}
	t, err := p.newSealTarget(f.t)
	if err != nil {
		return nil, tk, err
	}
	targets.Store(tk, t)
	return t, tk, nil
}

// sealColumns checks that the session table has the columns the seal lives in and the audit log
// exists: the migrations table can be at the latest version for another session table.
func sealColumns(f *facts, cfg config) error {
	n := f.t.Names
	tbl := f.cat.Tables[n.Table]
	for _, c := range []string{"security_version", "encryption_key_id", "security_hash", "created_ip_hash", "last_validated_at", schema.Change.Risk.Column} {
		if tbl == nil || tbl.Column(c) == nil {
			return fmt.Errorf("%w: table %s has no column %s although %s is at the latest version (another table's migrations table? pass WithMigrationsTable / WithTable)",
				ErrNotMigrated, n.Table, c, cfg.migrationsTable)
		}
	}
	if f.cat.Tables[n.AuditLog] == nil {
		return fmt.Errorf("%w: the audit log %s is missing (run Validate for the whole picture, then Migrate -reapply)", ErrNotMigrated, n.AuditLog)
	}
	return nil
}

func checkRing(k *Keyring) error {
	if k == nil || len(k.keys) == 0 {
		return fmt.Errorf("%w: nil keyring (LoadKeyringFromEnv, ParseKeyring or NewKeyring builds one)", ErrNoKeyring)
	}
	return nil
}

// VerifySession is [Provider.VerifySession] on db: opts may mix [New]'s options and the method's.
func VerifySession(ctx context.Context, db *sql.DB, k *Keyring, id string, opts ...Option) (*Verdict, error) {
	p, call, err := on(db, opVerify, opts)
	if err != nil {
		return nil, err
	}
	return p.VerifySession(ctx, k, id, call...)
}

// VerifySession verifies one session's seal on the request path: one read by the session key (the
// primary key's index) and at most one write. A valid seal refreshes last_validated_at (one UPDATE);
// a broken one raises risk_score to the maximum and writes a SESSION_TAMPERED audit row (one
// transaction); the other results write nothing. The seal is compared in constant time (hmac.Equal).
// The session table's layout is resolved on the first call per *sql.DB and cached.
//
// Decide per status: SealValid passes; SealTampered and SealUnknownKey must be refused; SealMissing is
// no session; SealUnsealed is a session the sealer has not reached yet - accept it only where the
// application cannot seal its own sessions (see the README's "Session integrity").
func (p *Provider) VerifySession(ctx context.Context, k *Keyring, id string, opts ...Option) (*Verdict, error) {
	cfg, err := p.callConfig(opVerify, opts)
	if err != nil {
		return nil, err
	}
	return p.verifySession(ctx, cfg, k, id)
}

func (p *Provider) verifySession(ctx context.Context, cfg config, k *Keyring, id string) (*Verdict, error) {
	if err := checkRing(k); err != nil {
		return nil, err
	}
	st, tk, err := p.cachedTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r, err := p.readSealRow(ctx, p.db, st, id, false)
	if errors.Is(err, sql.ErrNoRows) {
		return &Verdict{Status: SealMissing}, nil
	}
	if err != nil {
		targets.Delete(tk) // the table may have changed under the cache (a rollback)
		return nil, p.readErr(ctx, "reading the session", err)
	}
	status, check := classify(k, &r, st.hasIP)
	v := &Verdict{Status: status, Check: check}
	if status == SealValid || status == SealTampered {
		v.KeyID = r.keyID.String
	}
	switch status {
	case SealValid:
		query, args := p.stmt().MarkValidated(st.t.Names.Table, st.t.Col(schema.RoleKey), r.raw, st.ex.Now)
		if _, err = p.db.ExecContext(ctx, query, args...); err != nil {
			return v, p.readErr(ctx, "refreshing last_validated_at", err)
		}
	case SealTampered:
		tx, err := p.db.BeginTx(ctx, nil)
		if err != nil {
			return v, p.readErr(ctx, "recording the tampered session", err)
		}
		defer func() { _ = tx.Rollback() }()
		if err := p.markTampered(ctx, tx, st, r.raw, r.key.String, check); err != nil {
			return v, p.readErr(ctx, "recording the tampered session", err)
		}
		if err := tx.Commit(); err != nil {
			return v, p.readErr(ctx, "recording the tampered session", err)
		}
		cfg.logger.WarnContext(ctx, "sessionsec: a session's seal does not match its fields; risk_score raised and audited", "check", check)
	}
	return v, nil
}

// writeFirst takes the database's write lock at the start of a transaction where a write transaction
// locks the whole database (SQLite: LockRows is ""). A transaction that reads first and writes later
// fails there with SQLITE_BUSY_SNAPSHOT whenever another connection committed in between, which no
// busy timeout waits out; an empty UPDATE first makes it wait for the lock instead, as BEGIN IMMEDIATE.
func (p *Provider) writeFirst(ctx context.Context, q dialect.Querier, st *sealTarget) error {
	if dialect.LockRows(p.d) != "" {
		return nil
	}
	_, err := q.ExecContext(ctx, p.stmt().Touch(st.t.Names.Table))
	return err
}

// readSealRow reads one row by key; lock locks it (FOR UPDATE, inside a transaction).
func (p *Provider) readSealRow(ctx context.Context, q dialect.Querier, st *sealTarget, id any, lock bool) (sealRow, error) {
	var r sealRow
	query, args := p.stmt().RowByKey(st.t.Names.Table, st.cols, st.t.Col(schema.RoleKey), id, lock)
	err := st.scan(q.QueryRowContext(ctx, query, args...), &r)
	return r, err
}

// markTampered raises the row's risk_score to the maximum and writes its SESSION_TAMPERED audit row.
func (p *Provider) markTampered(ctx context.Context, q dialect.Querier, st *sealTarget, raw any, key, check string) error {
	query, args := p.stmt().RaiseRisk(st.t.Names.Table, st.t.Col(schema.RoleKey), raw, schema.Change.Risk.Max)
	if _, err := q.ExecContext(ctx, query, args...); err != nil {
		return err
	}
	return p.auditTampered(ctx, q, st, key, check)
}

// auditTampered writes a SESSION_TAMPERED audit row. details is one of the package's constants, never
// row data.
func (p *Provider) auditTampered(ctx context.Context, q dialect.Querier, st *sealTarget, key, check string) error {
	query, args := p.stmt().AuditSessionRow(st.t.Names.AuditLog, key, AuditTampered, `{"check": "`+check+`"}`, schema.Change.Risk.Max)
	_, err := q.ExecContext(ctx, query, args...)
	return err
}

// SealSession is [Provider.SealSession] on db: opts may mix [New]'s options and the method's.
func SealSession(ctx context.Context, db *sql.DB, k *Keyring, id string, opts ...Option) error {
	p, call, err := on(db, opSeal, opts)
	if err != nil {
		return err
	}
	return p.SealSession(ctx, k, id, call...)
}

// SealSession seals one session with the primary key: call it after the application writes a
// session (the SDK store's create), so the session is sealed from its first request on. A row sealed
// with the primary key already is left alone; a row sealed with another key of the ring is verified
// first and sealed again only when it verifies: a tampered row gets ErrSessionTampered (and is audited),
// never a fresh seal over its tampered fields. One transaction: a locked read and at most one write.
func (p *Provider) SealSession(ctx context.Context, k *Keyring, id string, opts ...Option) error {
	cfg, err := p.callConfig(opSeal, opts)
	if err != nil {
		return err
	}
	return p.sealSession(ctx, cfg, k, id)
}

func (p *Provider) sealSession(ctx context.Context, cfg config, k *Keyring, id string) error {
	if err := checkRing(k); err != nil {
		return err
	}
	st, tk, err := p.cachedTarget(ctx, cfg)
	if err != nil {
		return err
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return p.readErr(ctx, "sealing the session", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := p.writeFirst(ctx, tx, st); err != nil {
		return p.readErr(ctx, "sealing the session", err)
	}
	r, err := p.readSealRow(ctx, tx, st, id, true)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrSessionMissing
	}
	if err != nil {
		targets.Delete(tk)
		return p.readErr(ctx, "reading the session", err)
	}
	out, check, err := p.sealOne(ctx, tx, st, k, &r)
	if err != nil {
		return p.readErr(ctx, "sealing the session", err)
	}
	if err := tx.Commit(); err != nil {
		return p.readErr(ctx, "sealing the session", err)
	}
	switch out {
	case outTampered:
		cfg.logger.WarnContext(ctx, "sessionsec: a session's seal does not match its fields; left unsealed and audited", "check", check)
		return fmt.Errorf("%w (check %s): it was audited and its risk_score raised", ErrSessionTampered, check)
	case outUnknown:
		return fmt.Errorf("%w: the row names a key id the ring does not hold", ErrUnknownKey)
	}
	return nil
}

// outcome is what sealOne did to a row.
type outcome int

const (
	outNone     outcome = iota // already sealed with the primary key
	outSealed                  // a version 1 row sealed
	outResealed                // an older key's valid seal replaced by the primary's
	outTampered                // an older key's seal did not verify: audited, left as it is
	outUnknown                 // sealed with a key the ring does not hold: left as it is
)

// pendingSeal is a row's new seal, to be written.
type pendingSeal struct {
	raw    any
	seal   string
	ipHash sql.NullString
}

// sealOne seals r with the primary key where it needs it, on q (inside the caller's transaction,
// the row locked).
func (p *Provider) sealOne(ctx context.Context, q dialect.Querier, st *sealTarget, k *Keyring, r *sealRow) (outcome, string, error) {
	out, check, ps, err := p.planSeal(ctx, q, st, k, r)
	if err != nil || ps == nil {
		return out, check, err
	}
	return out, check, p.writeSeals(ctx, q, st, k.primary, []pendingSeal{*ps})
}

// planSeal decides what r needs: a new seal (returned, not yet written), nothing, or - for an older
// key's seal that does not verify - the tampered marking, which it writes on q.
func (p *Provider) planSeal(ctx context.Context, q dialect.Querier, st *sealTarget, k *Keyring, r *sealRow) (outcome, string, *pendingSeal, error) {
	out := outSealed
	if r.version.Valid && r.version.Int64 == SealVersion {
		if r.keyID.Valid && r.keyID.String == k.primary {
			// A row that claims the primary key is verified by VerifySession and Verify; sealing it
			// again would bless whatever a writer changed.
			return outNone, "", nil, nil
		}
		status, check := classify(k, r, st.hasIP)
		switch status {
		case SealTampered:
			return outTampered, check, nil, p.markTampered(ctx, q, st, r.raw, r.key.String, check)
		case SealUnknownKey:
			return outUnknown, "", nil, nil
		}
		out = outResealed
	} else if r.version.Valid && r.version.Int64 > SealVersion {
		return outNone, "", nil, nil // a later version's row: not ours to touch
	}
	key, _ := k.key(k.primary)
	seal, ipHash := sealOf(key, k.primary, r, st.hasIP)
	return out, "", &pendingSeal{raw: r.raw, seal: seal, ipHash: ipHash}, nil
}

// sealChunk is the rows one UPDATE writes: 5 parameters a row (and two for the statement) stay under
// every server's limit (SQLite's 32766 included).
const sealChunk = 500

// writeSeals writes the seals of rows sealed with the primary key, one UPDATE per chunk of rows
// (sqlstmt.WriteSeals).
func (p *Provider) writeSeals(ctx context.Context, q dialect.Querier, st *sealTarget, primary string, rows []pendingSeal) error {
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), sealChunk)]
		rows = rows[len(chunk):]
		seals := make([]sqlstmt.Seal, len(chunk))
		for i, r := range chunk {
			seals[i] = sqlstmt.Seal{Key: r.raw, Hash: r.seal, IPHash: r.ipHash}
		}
		query, args := p.stmt().WriteSeals(st.t.Names.Table, st.t.Col(schema.RoleKey), seals, st.hasIP, primary, SealVersion)
		if _, err := q.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}
