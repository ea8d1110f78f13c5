package postgres

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// SealExprs reads the seal's fields the way the version 1 hash reads them (render.go).
func (Dialect) SealExprs(t dialect.Target) dialect.SealExprs {
	r := renderer{t: t}
	e := dialect.SealExprs{Key: r.text("", schema.RoleKey), User: r.text("", schema.RoleUser), Epoch: r.epoch("")}
	e.Now = r.now("last_validated_at")
	if t.Has(schema.RoleIP) {
		e.IP = r.col(schema.RoleIP)
		switch t.RoleKind(schema.RoleIP) {
		case dialect.FamInet:
			e.IP = "pg_catalog.host(" + e.IP + ")"
		case dialect.FamText:
		default:
			e.IP += "::text"
		}
	}
	return e
}
