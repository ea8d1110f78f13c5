package sessionsec

import (
	"fmt"
	"io/fs"
	"slices"

	"github.com/golang-migrate/migrate/v4/source"

	"github.com/agui-go/sessionsec/migrations"
)

// Step is one migration of the embedded set.
type Step struct {
	Version uint
	Name    string // description part of the file name, e.g. "add_security_columns"
	Up      string // up file name
	Down    string // down file name
}

// Steps lists the embedded migrations of a dialect ("mysql", "postgres", "sqlite") in order.
func Steps(dialectName string) ([]Step, error) {
	dir, err := migrations.Dir(dialectName)
	if err != nil {
		return nil, err
	}
	files, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, err
	}
	byVersion := map[uint]*Step{}
	for _, f := range files {
		m, err := source.DefaultParse(f.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations/%s: %s is not a migration file name: %w", dialectName, f.Name(), err)
		}
		s := byVersion[m.Version]
		if s == nil {
			s = &Step{Version: m.Version, Name: m.Identifier}
			byVersion[m.Version] = s
		}
		switch m.Direction {
		case source.Up:
			s.Up = f.Name()
		case source.Down:
			s.Down = f.Name()
		}
	}
	steps := make([]Step, 0, len(byVersion))
	for _, s := range byVersion {
		steps = append(steps, *s)
	}
	slices.SortFunc(steps, func(a, b Step) int { return int(a.Version) - int(b.Version) })
	return steps, nil
}

// plan is the ordered step list of one dialect with lookups.
type plan struct {
	steps []Step
}

func loadPlan(dialectName string) (*plan, error) {
	s, err := Steps(dialectName)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("migrations/%s holds no migrations", dialectName)
	}
	return &plan{steps: s}, nil
}

func (p *plan) latest() uint { return p.steps[len(p.steps)-1].Version }

// index returns the position of version v, or -1.
func (p *plan) index(v uint) int {
	for i, s := range p.steps {
		if s.Version == v {
			return i
		}
	}
	return -1
}

func (p *plan) name(v uint) string {
	if i := p.index(v); i >= 0 {
		return p.steps[i].Up
	}
	return fmt.Sprintf("version %d", v)
}

// previous returns the version before v as golang-migrate's Force wants it (-1 for "none").
func (p *plan) previous(v uint) int {
	i := p.index(v)
	if i <= 0 {
		return -1
	}
	return int(p.steps[i-1].Version)
}

// pending returns the steps after version v (all when !has).
func (p *plan) pending(v uint, has bool) []Step {
	if !has {
		return p.steps
	}
	i := p.index(v)
	if i < 0 {
		return nil
	}
	return p.steps[i+1:]
}
