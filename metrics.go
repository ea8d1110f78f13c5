package sessionsec

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/sqlstmt"
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
	t, n, sb := m.f.t, m.f.t.Names, p.stmt()
	rr := schema.Change.Risk
	exp, lv := t.Col(schema.RoleExpires), sqlstmt.ValidatedColumn
	window := now.AddDate(0, 0, -rr.ValidationWindowDays)
	var avg sql.NullFloat64
	query, args := sb.SessionStats(n.Table, rr.CleanupThreshold,
		sqlstmt.Validated(sqlstmt.Raw(p.d.Before(lv, t.Kind(lv), window))),
		sqlstmt.Raw(p.d.Before(exp, t.Kind(exp), now)))
	err = m.s.conn.QueryRowContext(ctx, query, args...).Scan(&out.Sessions, &out.Hashed, &avg, &out.HighRisk, &out.Validated, &out.Expired)
	if err != nil {
		return nil, p.readErr(ctx, "reading the session table's metrics", err)
	}
	out.AvgRiskScore = avg.Float64
	query, args = sb.Count(n.Archive, sqlstmt.Cond{})
	if err := m.s.conn.QueryRowContext(ctx, query, args...).Scan(&out.Archived); err != nil {
		return nil, p.readErr(ctx, "counting the archive", err)
	}
	fam := dialect.FamInstant
	if c := m.f.cat.Tables[n.AuditLog].Column("created_at"); c != nil {
		fam = c.Family
	}
	lastDay := sqlstmt.Not(sqlstmt.Raw(p.d.Before("created_at", fam, now.Add(-24*time.Hour))))
	query, args = sb.AuditStats(n.AuditLog, lastDay)
	if err := m.s.conn.QueryRowContext(ctx, query, args...).Scan(&out.AuditRows, &out.AuditRowsLastDay); err != nil {
		return nil, p.readErr(ctx, "reading the audit log's metrics", err)
	}
	query, args = sb.AuditDetails(n.AuditLog, schema.AuditCleanup, lastDay)
	rows, err := m.s.conn.QueryContext(ctx, query, args...)
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
