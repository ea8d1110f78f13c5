package postgres

import (
	"strconv"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// columnTypes maps the logical column types onto what format_type reports.
var columnTypes = map[schema.Type]string{
	schema.TypeSessionID: "character varying(255)",
	schema.TypeUserID:    "character varying(255)",
	schema.TypeTimestamp: "timestamp with time zone",
	schema.TypeHash:      "character(64)",
	schema.TypeKeyID:     "character varying(128)",
	schema.TypeVersion:   "integer",
	schema.TypeRiskScore: "smallint",
	schema.TypeAuditID:   "bigint",
	schema.TypeAction:    "character varying(64)",
	schema.TypeDetails:   "jsonb",
}

// defaults maps the logical defaults onto their normalized form (see normalizeDefault).
var defaults = map[schema.Default]string{
	schema.DefaultOne:  "1",
	schema.DefaultZero: "0",
	schema.DefaultNow:  "now",
}

// Trigger functions the migrations create; the trigger bodies must call them.
const (
	insertTriggerFunction = "sessions_security_hash_trigger_fn"
	updateTriggerFunction = "sessions_validation_timestamp_trigger_fn"
)

var triggerFunctions = map[string]string{
	"sessions_security_hash_trigger":        insertTriggerFunction,
	"sessions_validation_timestamp_trigger": updateTriggerFunction,
}

func renderColumn(c schema.Column, withComment bool) *dialect.Column {
	col := &dialect.Column{Name: c.Name, Type: columnTypes[c.Type], Nullable: c.Nullable}
	if d, ok := defaults[c.Default]; ok {
		col.Default = &d
	}
	if withComment {
		col.Comment = c.Comment
	}
	return col
}

func renderIndex(ix schema.Index) *dialect.Index {
	return &dialect.Index{
		Table:     ix.Table,
		Name:      ix.Name,
		Columns:   append([]string(nil), ix.Columns...),
		Predicate: dialect.PredicateText(ix.Partial),
		Valid:     true,
	}
}

// Expected renders the logical schema in the form Snapshot reports. The sessions table lists only the
// security columns (the base columns belong to the application and may legitimately differ, e.g. a
// timestamp without time zone); sessions_archive likewise lists the security columns (without comments:
// LIKE ... INCLUDING DEFAULTS copies no comments) - that it mirrors sessions is checked by the core.
func (*Dialect) Expected(s schema.Schema) *dialect.Snapshot {
	snap := dialect.NewSnapshot()

	sessions := &dialect.Table{Name: s.Sessions}
	for _, c := range s.SecurityColumns {
		sessions.Columns = append(sessions.Columns, renderColumn(c, true))
	}
	snap.Tables[s.Sessions] = sessions

	for _, ix := range s.Indexes {
		snap.Indexes[ix.Name] = renderIndex(ix)
	}
	for _, t := range s.Tables {
		tbl := &dialect.Table{Name: t.Name}
		if t.MirrorsSessions {
			for _, c := range s.SecurityColumns {
				tbl.Columns = append(tbl.Columns, renderColumn(c, false))
			}
		} else {
			for _, c := range t.Columns {
				tbl.Columns = append(tbl.Columns, renderColumn(c, true))
			}
		}
		snap.Tables[t.Name] = tbl
		for _, ix := range t.Indexes {
			snap.Indexes[ix.Name] = renderIndex(ix)
		}
	}

	for _, tg := range s.Triggers {
		t := &dialect.Trigger{
			Name:   tg.Name,
			Table:  tg.Table,
			Timing: string(tg.Timing),
			Event:  string(tg.Event),
		}
		if fn, ok := triggerFunctions[tg.Name]; ok {
			t.BodyContains = append(t.BodyContains, "execute function "+fn+"()")
		}
		if tg.Event == schema.Update {
			t.BodyContains = append(t.BodyContains, "is distinct from")
		}
		snap.Triggers[tg.Name] = t
	}

	for _, r := range s.Routines {
		name := strings.ToLower(r.Name)
		snap.Routines[name] = &dialect.Routine{Name: name, Kind: string(r.Kind)}
	}

	if s.Risk.ConstraintName != "" {
		snap.Checks[s.Risk.ConstraintName] = &dialect.Check{
			Table:     s.Sessions,
			Name:      s.Risk.ConstraintName,
			Expr:      RenderRiskCheck(s.Risk),
			Validated: true,
		}
	}
	return snap
}

// RenderRiskCheck renders the risk-range CHECK as the normalized catalog text (BETWEEN is stored as
// >= AND <=).
func RenderRiskCheck(r schema.RiskRule) string {
	return r.Column + " >= " + strconv.Itoa(r.Min) + " and " + r.Column + " <= " + strconv.Itoa(r.Max)
}
