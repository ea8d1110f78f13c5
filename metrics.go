package sessionsec

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// ReadMetrics is [Provider.ReadMetrics] on db: opts may mix [New]'s options and the method's.
func ReadMetrics(ctx context.Context, db *sql.DB, opts ...Option) (*Metrics, error) {
	p, call, err := on(db, opMetrics, opts)
	if err != nil {
		return nil, err
	}
	return p.ReadMetrics(ctx, call...)
}

// ReadMetrics reads a monitoring snapshot: the session table's hashed, validated, risky and expired
// rows, the archive's size, and the audit log's size and growth over the last day. It changes nothing
// and takes no lock; it scans the session table once (run it every few minutes, not per request).
func (p *Provider) ReadMetrics(ctx context.Context, opts ...Option) (*Metrics, error) {
	cfg, err := p.callConfig(opMetrics, opts)
	if err != nil {
		return nil, err
	}
	return p.metrics(ctx, cfg)
}

func (p *Provider) metrics(ctx context.Context, cfg config) (*Metrics, error) {
	m, err := p.ready(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.s.close()
	now := cfg.now().UTC()
	out := &Metrics{At: now}
	t, n, q := m.f.t, m.f.t.Names, p.d.Quote
	rr := schema.Change.Risk
	exp, lv := t.Col(schema.RoleExpires), "last_validated_at"
	window := now.AddDate(0, 0, -rr.ValidationWindowDays)
	count := func(pred string) string { return "COALESCE(SUM(CASE WHEN " + pred + " THEN 1 ELSE 0 END), 0)" }
	var avg sql.NullFloat64
	err = m.s.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*), COUNT(%s), AVG(%s), %s, %s, %s FROM %s",
		q("security_hash"), q(rr.Column),
		count(fmt.Sprintf("%s > %d", q(rr.Column), rr.CleanupThreshold)),
		count(fmt.Sprintf("%s IS NOT NULL AND NOT (%s)", q(lv), p.d.Before(lv, t.Kind(lv), window))),
		count(p.d.Before(exp, t.Kind(exp), now)),
		q(n.Table))).Scan(&out.Sessions, &out.Hashed, &avg, &out.HighRisk, &out.Validated, &out.Expired)
	if err != nil {
		return nil, p.readErr(ctx, "reading the session table's metrics", err)
	}
	out.AvgRiskScore = avg.Float64
	if err := m.s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q(n.Archive)).Scan(&out.Archived); err != nil {
		return nil, p.readErr(ctx, "counting the archive", err)
	}
	fam := dialect.FamInstant
	if c := m.f.cat.Tables[n.AuditLog].Column("created_at"); c != nil {
		fam = c.Family
	}
	lastDay := "NOT (" + p.d.Before("created_at", fam, now.Add(-24*time.Hour)) + ")"
	if err := m.s.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*), %s FROM %s", count(lastDay), q(n.AuditLog))).
		Scan(&out.AuditRows, &out.AuditRowsLastDay); err != nil {
		return nil, p.readErr(ctx, "reading the audit log's metrics", err)
	}
	rows, err := m.s.conn.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s = '%s' AND %s",
		q("details"), q(n.AuditLog), q("action"), schema.AuditCleanup, lastDay))
	if err != nil {
		return nil, p.readErr(ctx, "reading cleanup's audit rows", err)
	}
	defer rows.Close()
	for rows.Next() {
		var details sql.NullString
		if err := rows.Scan(&details); err != nil {
			return nil, p.readErr(ctx, "reading cleanup's audit rows", err)
		}
		var c struct{ Deleted int64 }
		if json.Unmarshal([]byte(details.String), &c) == nil {
			out.CleanupDeletedLastDay += c.Deleted
		}
	}
	if err := rows.Err(); err != nil {
		return nil, p.readErr(ctx, "reading cleanup's audit rows", err)
	}
	if err := p.sealMetrics(ctx, m, out, lastDay, now); err != nil {
		return nil, err
	}
	return out, nil
}
