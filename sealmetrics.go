package sessionsec

import (
	"database/sql"
	"fmt"
	"time"

	"context"
)

// sealMetrics adds the seal's figures to a snapshot: sealed rows per key, the age of the oldest
// unsealed row (by its creation time, read as the seal reads it) and the tampered rows audited in the
// last day. Three statements; the first two use the security_version index.
func (p *Provider) sealMetrics(ctx context.Context, m *maintenance, out *Metrics, lastDay string, now time.Time) error {
	st, err := p.newSealTarget(m.f.t)
	if err != nil {
		return err
	}
	q := p.d.Quote
	tbl, sv := q(st.t.Names.Table), q("security_version")
	rows, err := m.s.conn.QueryContext(ctx, fmt.Sprintf("SELECT %s, COUNT(*) FROM %s WHERE %s = %d GROUP BY %s",
		q("encryption_key_id"), tbl, sv, SealVersion, q("encryption_key_id")))
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
	if err := m.s.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT MIN(%s) FROM %s WHERE %s < %d", st.ex.Epoch, tbl, sv, SealVersion)).
		Scan(&oldest); err != nil {
		return p.readErr(ctx, "reading the oldest unsealed session", err)
	}
	if oldest.Valid {
		out.OldestUnsealedAge = max(now.Sub(time.Unix(oldest.Int64, 0)), 0)
	}
	if err := m.s.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s = '%s' AND %s",
		q(st.t.Names.AuditLog), q("action"), AuditTampered, lastDay)).Scan(&out.TamperedLastDay); err != nil {
		return p.readErr(ctx, "counting tampered sessions", err)
	}
	return nil
}
