package sqlite

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// SealExprs reads the seal's fields the way the version 1 hash reads them (render.go).
func (Dialect) SealExprs(t dialect.Target) dialect.SealExprs {
	r := renderer{t: t}
	e := dialect.SealExprs{Key: r.text(schema.RoleKey), User: r.text(schema.RoleUser),
		Epoch: EpochFunction + "(" + r.col(schema.RoleCreated) + ")"}
	e.Now = "CURRENT_TIMESTAMP"
	if t.Has(schema.RoleIP) {
		e.IP = r.col(schema.RoleIP)
	}
	return e
}
