package sessionsec

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// MigrationStatus is where a database stands against this binary's migration set.
type MigrationStatus struct {
	Dialect    string
	Version    uint // applied version; meaningful when HasVersion
	HasVersion bool
	Dirty      bool
	Latest     uint
	Applied    []Step
	Pending    []Step
}

// String renders the status, one line per step.
func (s *MigrationStatus) String() string {
	var b strings.Builder
	state := "no version applied"
	if s.HasVersion {
		state = fmt.Sprintf("version %d", s.Version)
		if s.Dirty {
			state += " (DIRTY: an interrupted step; Migrate finishes it)"
		}
	}
	fmt.Fprintf(&b, "%s: %s, latest %d, %d applied, %d pending", s.Dialect, state, s.Latest, len(s.Applied), len(s.Pending))
	for _, st := range s.Applied {
		fmt.Fprintf(&b, "\n  applied  %06d %s", st.Version, st.Name)
	}
	for _, st := range s.Pending {
		fmt.Fprintf(&b, "\n  pending  %06d %s", st.Version, st.Name)
	}
	return b.String()
}

// Status reads the migrations table (without taking the lock) and tells which steps are applied and
// which are pending.
func Status(ctx context.Context, db *sql.DB, opts ...Option) (*MigrationStatus, error) {
	t, err := resolve(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	p, err := loadPlan(t.d.Name())
	if err != nil {
		return nil, err
	}
	st, err := t.readVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	out := &MigrationStatus{Dialect: t.d.Name(), Version: st.Version, HasVersion: st.HasVersion, Dirty: st.Dirty, Latest: p.latest()}
	out.Pending = p.pending(st.Version, st.HasVersion)
	for _, s := range p.steps {
		if st.HasVersion && s.Version <= st.Version && !(st.Dirty && s.Version == st.Version) {
			out.Applied = append(out.Applied, s)
		}
	}
	if st.Dirty {
		if i := p.index(st.Version); i >= 0 {
			out.Pending = p.steps[i:]
		}
	}
	return out, nil
}

// Version returns the applied migration version and the dirty flag; ok is false when none is applied.
func Version(ctx context.Context, db *sql.DB, opts ...Option) (version uint, dirty, ok bool, err error) {
	s, err := Status(ctx, db, opts...)
	if err != nil {
		return 0, false, false, err
	}
	return s.Version, s.Dirty, s.HasVersion, nil
}
