package sessionsec

import (
	"context"
)

func (p *Provider) status(ctx context.Context, cfg config) (*MigrationStatus, error) {
	st, err := p.readVersion(ctx, p.db, cfg)
	if err != nil {
		return nil, err
	}
	if st.HasVersion || st.Dirty {
		// The version is the change's on one table: refuse to report it for another.
		if _, err := p.inspect(ctx, p.db, cfg); err != nil {
			return nil, err
		}
	}
	table := p.tableName(cfg)
	steps := Steps(table)
	for _, e := range cfg.extras {
		up, down := e.FileNames(table)
		steps = append(steps, Step{Version: e.Version, Name: e.Name(table), Up: up, Down: down})
	}
	out := &MigrationStatus{Dialect: p.d.Name(), Table: cfg.migrationsTable, Version: st.Version, HasVersion: st.HasVersion,
		Dirty: st.Dirty, Latest: latest(cfg)}
	for _, s := range steps {
		switch {
		case st.HasVersion && s.Version < st.Version, st.HasVersion && s.Version == st.Version && !st.Dirty:
			out.Applied = append(out.Applied, s)
		default:
			out.Pending = append(out.Pending, s)
		}
	}
	return out, nil
}
