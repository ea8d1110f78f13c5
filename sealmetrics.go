package sessionsec

import (
	"context"
	"database/sql"
	"time"

	"github.com/agui-go/sessionsec/internal/sqlstmt"
)

// sealMetrics adds the seal's figures to a snapshot: sealed rows per key, the age of the oldest
// unsealed row (by its creation time, read as the seal reads it) and the tampered rows audited in the
// last day. Three statements; the first two use the security_version index.
func (p *Provider) sealMetrics(ctx context.Context, m *maintenance, out *Metrics, lastDay sqlstmt.Cond, now time.Time) error {
	st, err := p.newSealTarget(m.f.t)
	if err != nil {
		return err
	}
	sb, n := p.stmt(), st.t.Names
	query, args := sb.SealedByKey(n.Table, SealVersion)
	rows, err := m.s.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return p.readErr(ctx, "counting sealed sessions", err)
	}
	defer rows.Close()
	out.SealedByKey = map[string]int64{}
	for rows.Next() {
		var id sql.NullString
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return p.readErr(ctx, "counting sealed sessions", err)
		}
		out.SealedByKey[id.String] += n
		out.Sealed += n
	}
	if err := rows.Err(); err != nil {
		return p.readErr(ctx, "counting sealed sessions", err)
	}
	var oldest sql.NullInt64
	query, args = sb.OldestUnsealed(n.Table, st.ex.Epoch, SealVersion)
	if err := m.s.conn.QueryRowContext(ctx, query, args...).Scan(&oldest); err != nil {
		return p.readErr(ctx, "reading the oldest unsealed session", err)
	}
	if oldest.Valid {
		out.OldestUnsealedAge = max(now.Sub(time.Unix(oldest.Int64, 0)), 0)
	}
	query, args = sb.AuditCount(n.AuditLog, AuditTampered, lastDay)
	if err := m.s.conn.QueryRowContext(ctx, query, args...).Scan(&out.TamperedLastDay); err != nil {
		return p.readErr(ctx, "counting tampered sessions", err)
	}
	return nil
}
