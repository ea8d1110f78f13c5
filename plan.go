package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Plan is what Migrate would do on this database, step by step, and what Preflight says. Making it
// changes nothing. Its JSON form is the command's --json output of plan.
type Plan struct {
	Server  string `json:"server"`
	Table   string `json:"table"`
	Layout  string `json:"layout"`
	Version uint   `json:"version"` // applied version (0: none)
	Latest  uint   `json:"latest"`
	// Rows is the server's estimate of the session table's rows (statistics, not a count).
	Rows  int64         `json:"rows"`
	Steps []PlannedStep `json:"steps"`
	// Estimate is the sum of the steps' estimates (steps with no measured rate count as zero).
	Estimate time.Duration `json:"estimate_ns"`
	// Problems are Preflight's: Migrate refuses to start while there are any.
	Problems []Problem `json:"problems"`
}

// PlannedStep is one pending step.
type PlannedStep struct {
	Version  uint   `json:"version"`
	Name     string `json:"name"`
	How      string `json:"how"`
	Rewrites bool   `json:"rewrites_table"`
	Writers  string `json:"writers"`
	// Rows and Batches are the rows the step reads or fills and, for a batched step, its batches.
	Rows    int64 `json:"rows,omitempty"`
	Batches int64 `json:"batches,omitempty"`
	// Estimate is Rows at the benchmark's measured rate (0 when the step's time does not depend on the
	// table, or no rate is measured for this server).
	Estimate time.Duration `json:"estimate_ns,omitempty"`
	// BlocksCluster: on a Galera node the step's DDL runs under total order isolation (TOI): every node
	// of the cluster applies nothing else until it is done, for about Estimate on a long step.
	BlocksCluster bool `json:"blocks_cluster,omitempty"`
}

// Plan returns what Migrate would do now: the pending steps with how each runs on this server, and
// Preflight's problems. It takes the options Preflight takes.
func (p *Provider) Plan(ctx context.Context, opts ...Option) (*Plan, error) {
	cfg, err := p.callConfig(opPreflight, opts)
	if err != nil {
		return nil, err
	}
	return p.plan(ctx, cfg)
}

func (p *Provider) plan(ctx context.Context, cfg config) (*Plan, error) {
	s, err := p.open(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	st, err := p.readVersion(ctx, s.conn, cfg)
	if err != nil {
		return nil, err
	}
	f, err := p.inspect(ctx, s.conn, cfg)
	if err != nil {
		var pe *PreflightError
		if errors.As(err, &pe) {
			return &Plan{Server: "unsupported", Problems: pe.Problems}, nil
		}
		return nil, err
	}
	out := &Plan{Server: f.srv.String(), Table: f.t.Names.Table, Layout: f.t.Layout.Name, Version: st.Version, Latest: latest(cfg), Rows: -1}
	pending := f.pending(st, false)
	out.Problems = p.preflight(ctx, s.conn, cfg, f, st, pending)
	if out.Problems == nil {
		out.Problems = []Problem{}
	}
	if tbl := f.cat.Tables[out.Table]; tbl != nil {
		out.Rows = tbl.Rows
		if out.Rows < 0 {
			// No statistics (SQLite): count; the databases without statistics are the small ones.
			var n int64
			if err := s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+p.d.Quote(out.Table)).Scan(&n); err == nil {
				out.Rows = n
			}
		}
	} else {
		out.Rows = 0
	}
	cluster := false
	if lr, ok := p.d.(dialect.Leaser); ok {
		if topo, err := lr.Topology(ctx, s.conn, p.db); err == nil {
			cluster = topo.Cluster
		}
	}
	for _, step := range pending {
		m := dialect.UnknownMethod(p.d)
		if pl, ok := p.d.(dialect.Planner); ok {
			m = pl.Method(f.t, step, f.srv)
		}
		ps := PlannedStep{Version: step.Version, Name: step.Name(out.Table), How: m.How, Rewrites: m.Rewrites, Writers: m.Writers}
		if step.Long() {
			ps.Rows = max(out.Rows, 0)
			if m.Batch > 0 {
				ps.Batches = (ps.Rows + int64(m.Batch) - 1) / int64(m.Batch)
			}
			if m.RowsPerSecond > 0 {
				ps.Estimate = time.Duration(float64(ps.Rows) / m.RowsPerSecond * float64(time.Second))
			}
		}
		// Every step but the backfill (row changes, certified like the application's) is DDL.
		ps.BlocksCluster = cluster && step.Kind != schema.StepBackfill
		out.Estimate += ps.Estimate
		out.Steps = append(out.Steps, ps)
	}
	if out.Steps == nil {
		out.Steps = []PlannedStep{}
	}
	return out, nil
}

// PlanFor is [Provider.Plan] on db.
//
// Deprecated: use New(db) and [Provider.Plan]; a package-level Plan cannot exist beside the type Plan.
func PlanFor(ctx context.Context, db *sql.DB, opts ...Option) (*Plan, error) {
	p, call, err := on(db, opPreflight, opts)
	if err != nil {
		return nil, err
	}
	return p.Plan(ctx, call...)
}

func (pl *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, table %s (%s layout, about %d rows): version %d of %d, %d step(s) pending",
		pl.Server, pl.Table, pl.Layout, pl.Rows, pl.Version, pl.Latest, len(pl.Steps))
	if pl.Estimate > 0 {
		fmt.Fprintf(&b, ", about %s", pl.Estimate.Round(100*time.Millisecond))
	}
	for _, s := range pl.Steps {
		fmt.Fprintf(&b, "\n  %06d %s\n         %s", s.Version, s.Name, s.How)
		if s.Rewrites {
			b.WriteString("\n         REWRITES THE TABLE")
		}
		fmt.Fprintf(&b, "\n         writers: %s", s.Writers)
		if s.BlocksCluster {
			b.WriteString("\n         BLOCKS THE WHOLE CLUSTER while it runs (Galera DDL under total order isolation)")
			if s.Estimate > 0 {
				fmt.Fprintf(&b, ": about %s", s.Estimate.Round(10*time.Millisecond))
			}
		}
		if s.Rows > 0 {
			fmt.Fprintf(&b, "\n         rows: %d", s.Rows)
			if s.Batches > 0 {
				fmt.Fprintf(&b, " in %d batch(es)", s.Batches)
			}
			if s.Estimate > 0 {
				fmt.Fprintf(&b, ", about %s", s.Estimate.Round(10*time.Millisecond))
			}
		}
	}
	if len(pl.Problems) == 0 {
		b.WriteString("\npreflight: no problems found")
	} else {
		fmt.Fprintf(&b, "\npreflight: %d problem(s); Migrate will refuse to start:", len(pl.Problems))
		for _, pr := range pl.Problems {
			fmt.Fprintf(&b, "\n  - %s", pr.String())
		}
	}
	return b.String()
}
