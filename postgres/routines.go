package postgres

import (
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// ipHashFunction canonicalizes a client IP and hashes it (schema.IPHash).
const ipHashFunction = "sessionsec_ip_hash"

// boundPath is the search_path of every routine that may have one: pg_catalog first, then the
// routine's own schema, pg_temp last, so that nothing on the caller's search_path can stand in for a
// table, a function or an operator (CVE-2018-1058). Procedures that COMMIT cannot carry a SET clause;
// their bodies qualify every name instead.
const boundPath = "SET search_path = pg_catalog, " + schemaMark + ", pg_temp"

// routineDef is one function or procedure; Body is what pg_proc.prosrc holds once the file ran (with
// the schema mark replaced).
type routineDef struct {
	name, kind, params, returns, traits, body string
}

func (r routineDef) create() string {
	head := fmt.Sprintf("CREATE OR REPLACE %s %s.%s(%s)", r.kind, schemaMark, r.name, r.params)
	if r.returns != "" {
		head += "\nRETURNS " + r.returns
	}
	return head + "\n" + r.traits + "\nAS $$" + r.body + "$$"
}

func (r routineDef) drop() string {
	return fmt.Sprintf("DROP %s IF EXISTS %s(%s);", r.kind, r.name, argTypes(r.params))
}

// argTypes reduces a parameter list to its types, for DROP ("p_batch integer DEFAULT 5000" -> "integer").
func argTypes(params string) string {
	var out []string
	for _, p := range strings.Split(params, ",") {
		f := strings.Fields(p)
		if len(f) >= 2 {
			out = append(out, f[1])
		}
	}
	return strings.Join(out, ", ")
}

type triggerDef struct {
	name, table, timing, event, when, function, doc string
}

func (t triggerDef) create() string {
	s := fmt.Sprintf("CREATE TRIGGER %s\n    %s %s ON %s\n    FOR EACH ROW\n", quote(t.name), t.timing, t.event, quote(t.table))
	if t.when != "" {
		s += "    WHEN (" + t.when + ")\n"
	}
	return s + "    EXECUTE FUNCTION " + t.function + "();"
}

// trigger returns the trigger and its function at revision rev (see schema.RevisionKeyedIP).
func (r renderer) trigger(tr schema.Trigger, rev uint) (routineDef, triggerDef) {
	n := r.t.Names
	if tr.Event == schema.Insert {
		fn := routineDef{name: n.InsertFunction, kind: "FUNCTION", returns: "trigger",
			traits: "LANGUAGE plpgsql\n" + boundPath, body: r.insertBody(rev < schema.RevisionKeyedIP)}
		return fn, triggerDef{name: n.Trigger(tr), table: n.Table, timing: "BEFORE", event: "INSERT", function: n.InsertFunction,
			doc: "New rows: defaults and the canonical hash (an application-supplied one is kept)" + dialect.IPDoc(r.t) +
				". Installed before the backfill,\n-- so rows written meanwhile never keep a NULL hash. The risk range is the table's CHECK."}
	}
	la := r.col(schema.RoleLastAccessed)
	fn := routineDef{name: n.UpdateFunction, kind: "FUNCTION", returns: "trigger",
		traits: "LANGUAGE plpgsql\n" + boundPath, body: fmt.Sprintf(`
BEGIN
    IF NEW.%[1]s IS DISTINCT FROM OLD.%[1]s THEN
        NEW."last_validated_at" := %[2]s;
    END IF;
    RETURN NEW;
END
`, la, r.now("last_validated_at"))}
	return fn, triggerDef{name: n.Trigger(tr), table: n.Table, timing: "BEFORE", event: "UPDATE", function: n.UpdateFunction,
		when: fmt.Sprintf("NEW.%[1]s IS DISTINCT FROM OLD.%[1]s", la),
		doc:  "Updates: a NULL-safe change of " + r.t.Col(schema.RoleLastAccessed) + " refreshes last_validated_at; the WHEN clause keeps other updates\n-- (the backfill) cheap."}
}

// insertBody is the insert trigger function's body; ipHash tells whether it fills the unkeyed
// created_ip_hash (revision 1 only).
func (r renderer) insertBody(ipHash bool) string {
	var b strings.Builder
	b.WriteString("\nBEGIN\n")
	b.WriteString("    IF NEW.\"security_version\" IS NULL THEN\n        NEW.\"security_version\" := 1;\n    END IF;\n")
	fmt.Fprintf(&b, "    IF NEW.\"last_validated_at\" IS NULL THEN\n        NEW.\"last_validated_at\" := %s;\n    END IF;\n", r.now("last_validated_at"))
	fmt.Fprintf(&b, "    IF NEW.\"security_hash\" IS NULL THEN\n        NEW.\"security_hash\" := %s;\n    END IF;\n", r.hash("NEW."))
	if ipHash && r.t.Has(schema.RoleIP) {
		fmt.Fprintf(&b, "    IF NEW.\"created_ip_hash\" IS NULL THEN\n        NEW.\"created_ip_hash\" := %s;\n    END IF;\n", r.ipHash("NEW."))
	}
	b.WriteString("    RETURN NEW;\nEND\n")
	return b.String()
}

// routines lists the routines a routine step creates: the hash step also creates the IP helper.
func (r renderer) routines(name string) []routineDef {
	doc := schema.Change.Routine(name).Doc
	switch name {
	case schema.RoutineHash:
		cat := func(parts ...string) string { return strings.Join(parts, "\n        OPERATOR(pg_catalog.||) ") }
		field := func(p string) string {
			return "CASE WHEN " + p + " IS NULL THEN '-' ELSE pg_catalog.octet_length(pg_catalog.convert_to(" + p +
				", 'UTF8'))::text OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) " + p + " END"
		}
		// STABLE, not IMMUTABLE, and no SET clause: convert_to() is STABLE, and the planner inlines only a
		// SQL function declared no less volatile than its body and without SET - inlined, the backfill
		// hashes twice as fast. Every name in it is qualified instead.
		hash := routineDef{name: name, kind: "FUNCTION", params: "p_session_id text, p_user_id text, p_created_epoch bigint",
			returns: "text", traits: "LANGUAGE sql\nSTABLE PARALLEL SAFE",
			body: "\n    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(\n        " +
				cat("'"+schema.HashPrefix+"|'", field("p_session_id"), "'|'", field("p_user_id"), "'|'",
					"COALESCE(p_created_epoch::text, '-')") + ",\n        'UTF8')), 'hex')\n"}
		ip := routineDef{name: ipHashFunction, kind: "FUNCTION", params: "p_ip text", returns: "text",
			traits: "LANGUAGE plpgsql\nIMMUTABLE PARALLEL SAFE\n" + boundPath, body: `
DECLARE
    v_in text;
    v_addr inet;
    v_text text;
BEGIN
    IF p_ip IS NULL THEN
        RETURN NULL;
    END IF;
    v_in := pg_catalog.split_part(pg_catalog.btrim(p_ip, ' '), '/', 1);
    IF pg_catalog.strpos(v_in, ':') = 0 AND v_in !~ '^[0-9]{1,3}([.][0-9]{1,3}){3}$' THEN
        RETURN NULL;
    END IF;
    BEGIN
        v_addr := v_in::inet;
    EXCEPTION WHEN invalid_text_representation THEN
        RETURN NULL;
    END;
    v_text := pg_catalog.host(v_addr);
    IF pg_catalog.family(v_addr) = 6 AND v_text LIKE '::ffff:%.%' THEN
        v_text := pg_catalog.substr(v_text, 8);
    END IF;
    RETURN pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(v_text, 'UTF8')), 'hex');
END
`}
		return []routineDef{hash, ip}
	case schema.RoutineBackfill:
		return []routineDef{{name: name, kind: "PROCEDURE", params: fmt.Sprintf("p_batch integer DEFAULT %d", schema.Change.BackfillBatch),
			traits: "LANGUAGE plpgsql", body: r.backfillBody()}}
	case schema.RoutineCleanup:
		return []routineDef{{name: name, kind: "PROCEDURE", traits: "LANGUAGE plpgsql", body: r.cleanupBody()}}
	case schema.RoutineRisk:
		return []routineDef{{name: name, kind: "PROCEDURE", traits: "LANGUAGE plpgsql", body: r.riskBody()}}
	case schema.RoutineRetire:
		return []routineDef{{name: name, kind: "PROCEDURE", params: "p_table text", traits: "LANGUAGE plpgsql\n" + boundPath, body: r.retireBody()}}
	}
	_ = doc
	panic("postgres: unknown routine " + name)
}

// keyset is the batch skeleton the procedures share: walk the key in batches of limit keys, in key
// order, run op on each range, COMMIT after each batch. op gets the range condition; the first batch and
// the later ones get a statement each, so that both stay plain index ranges under a generic plan. Every
// operator on the key is pg_catalog's by name: these procedures COMMIT, so they cannot pin search_path.
func (r renderer) keyset(limit string, op func(inRange string) string) string {
	k, t := r.col(schema.RoleKey), r.tbl()
	le := k + " OPERATOR(pg_catalog.<=) v_max"
	return fmt.Sprintf(`    LOOP
        IF v_last IS NULL THEN
            SELECT b.k INTO v_max FROM (SELECT %[1]s AS k FROM %[2]s ORDER BY %[1]s LIMIT %[3]s) AS b
             ORDER BY b.k DESC LIMIT 1;
            EXIT WHEN v_max IS NULL;
%[4]s        ELSE
            SELECT b.k INTO v_max FROM (SELECT %[1]s AS k FROM %[2]s WHERE %[1]s OPERATOR(pg_catalog.>) v_last
                                         ORDER BY %[1]s LIMIT %[3]s) AS b
             ORDER BY b.k DESC LIMIT 1;
            EXIT WHEN v_max IS NULL;
%[5]s        END IF;
        v_last := v_max;
        COMMIT;
    END LOOP;
`, k, t, limit, dialect.Indent(op(le), "            "), dialect.Indent(op(k+" OPERATOR(pg_catalog.>) v_last AND "+le), "            "))
}

func (r renderer) keyDecl() string {
	typ := schemaMark + "." + quote(r.t.Names.Table) + "." + r.col(schema.RoleKey) + "%TYPE"
	return "    v_last " + typ + ";\n    v_max " + typ + ";\n"
}

func (r renderer) backfillSet() string {
	sets := []string{
		`"security_hash" = COALESCE("security_hash", ` + r.hash("") + ")",
		`"encryption_key_id" = COALESCE("encryption_key_id", ` + literal(schema.Change.DefaultKeyID) + ")",
		`"last_validated_at" = COALESCE("last_validated_at", ` + r.now("last_validated_at") + ")",
	}
	if r.t.Has(schema.RoleIP) {
		sets = append(sets, `"created_ip_hash" = COALESCE("created_ip_hash", `+r.ipHash("")+")")
	}
	return strings.Join(sets, ",\n       ")
}

func (r renderer) backfillPending() string {
	if r.t.Has(schema.RoleIP) {
		return `("security_hash" IS NULL OR ("created_ip_hash" IS NULL AND ` + r.col(schema.RoleIP) + ` IS NOT NULL))`
	}
	return `"security_hash" IS NULL`
}

func (r renderer) backfillBody() string {
	op := func(inRange string) string {
		return fmt.Sprintf("UPDATE %s\n   SET %s\n WHERE %s AND %s;\n", r.tbl(), r.backfillSet(), inRange, r.backfillPending())
	}
	return "\nDECLARE\n" + r.keyDecl() + "BEGIN\n" +
		fmt.Sprintf("    IF p_batch IS NULL OR p_batch < 1 THEN\n        p_batch := %d;\n    END IF;\n", schema.Change.BackfillBatch) +
		r.keyset("p_batch", op) + "END\n"
}

func (r renderer) inactive() string {
	if !r.t.Has(schema.RoleActive) {
		return ""
	}
	if r.t.RoleKind(schema.RoleActive) == dialect.FamBool {
		return " OR " + r.col(schema.RoleActive) + " IS FALSE"
	}
	return " OR " + r.col(schema.RoleActive) + " OPERATOR(pg_catalog.=) 0"
}

func (r renderer) nowDecl() string {
	return "    v_now timestamptz := pg_catalog.now();\n    v_now_utc timestamp := pg_catalog.timezone('UTC', pg_catalog.now());\n"
}

func auditInsert(action, details string) string {
	return fmt.Sprintf("INSERT INTO %s.%s (\"action\", \"details\") VALUES (%s, %s);", schemaMark, quote(schema.Change.AuditLog), literal(action), details)
}

func (r renderer) cleanupBody() string {
	rr := schema.Change.Risk
	exp := r.col(schema.RoleExpires)
	pred := fmt.Sprintf("(%s OPERATOR(pg_catalog.<) %s%s OR %s OPERATOR(pg_catalog.>) %d)", exp, r.nowVar(r.t.Col(schema.RoleExpires)), r.inactive(), quote(rr.Column), rr.CleanupThreshold)
	k, t := r.col(schema.RoleKey), r.tbl()
	op := func(inRange string) string {
		return fmt.Sprintf(`v_deleted := 0;
v_blocked := 0;
-- A deferred foreign key is checked per statement here, so that a held row fails its DELETE (and is
-- left in place) rather than the COMMIT of the whole batch, for ever.
SET CONSTRAINTS ALL IMMEDIATE;
BEGIN
    DELETE FROM %[1]s WHERE %[2]s AND %[3]s;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
EXCEPTION WHEN foreign_key_violation OR restrict_violation THEN
    -- A child row (FOREIGN KEY ... NO ACTION / RESTRICT; PostgreSQL 18 reports RESTRICT as
    -- restrict_violation) blocks the batch: delete row by row, each row once, count what stays. The
    -- DELETE re-checks the rule (a session extended meanwhile stays) and only what it deleted counts.
    FOR v_row IN SELECT %[4]s FROM %[1]s WHERE %[2]s AND %[3]s ORDER BY %[4]s LOOP
        BEGIN
            DELETE FROM %[1]s WHERE %[4]s OPERATOR(pg_catalog.=) v_row AND %[3]s;
            GET DIAGNOSTICS v_rc = ROW_COUNT;
            v_deleted := v_deleted + v_rc;
        EXCEPTION WHEN foreign_key_violation OR restrict_violation THEN
            v_blocked := v_blocked + 1;
        END;
    END LOOP;
END;
IF v_deleted > 0 OR v_blocked > 0 THEN
    %[5]s
END IF;
v_total := v_total + v_deleted;
v_total_blocked := v_total_blocked + v_blocked;
`, t, inRange, pred, k, auditInsert(schema.AuditCleanup, "pg_catalog.jsonb_build_object('blocked', v_blocked, 'deleted', v_deleted)"))
	}
	return "\nDECLARE\n" + r.keyDecl() + "    v_row " + schemaMark + "." + quote(r.t.Names.Table) + "." + k + "%TYPE;\n" + r.nowDecl() +
		"    v_deleted bigint;\n    v_blocked bigint;\n    v_rc bigint;\n    v_total bigint := 0;\n    v_total_blocked bigint := 0;\nBEGIN\n" +
		r.keyset(fmt.Sprint(schema.Change.MaintenanceRows), op) +
		"    IF v_total = 0 AND v_total_blocked = 0 THEN\n        " +
		auditInsert(schema.AuditCleanup, "pg_catalog.jsonb_build_object('blocked', 0, 'deleted', 0)") + "\n    END IF;\nEND\n"
}

func (r renderer) riskScore() string {
	rr := schema.Change.Risk
	exp := r.col(schema.RoleExpires)
	terms := []string{
		fmt.Sprintf(`CASE WHEN "security_hash" IS NULL THEN %d ELSE 0 END`, rr.NoHash),
		fmt.Sprintf("CASE WHEN %s OPERATOR(pg_catalog.<=) %s%s THEN %d ELSE 0 END", exp, r.nowVar(r.t.Col(schema.RoleExpires)), r.inactive(), rr.Expired),
	}
	if r.t.Has(schema.RoleIP) {
		terms = append(terms, fmt.Sprintf(`CASE WHEN "created_ip_hash" IS NULL THEN %d ELSE 0 END`, rr.NoIPHash))
	}
	window := "v_window"
	if r.t.Kind("last_validated_at") == dialect.FamWallClock {
		window = "v_window_utc"
	}
	terms = append(terms, fmt.Sprintf(`CASE WHEN "last_validated_at" IS NULL OR "last_validated_at" OPERATOR(pg_catalog.<) %s THEN %d ELSE 0 END`, window, rr.NotValidated))
	return fmt.Sprintf("LEAST(%d, %s)", rr.Max, strings.Join(terms, "\n                 + "))
}

func (r renderer) riskBody() string {
	rr := schema.Change.Risk
	score := r.riskScore()
	op := func(inRange string) string {
		return fmt.Sprintf(`UPDATE %s SET %s = %s
 WHERE %s AND %s OPERATOR(pg_catalog.<) %s;
GET DIAGNOSTICS v_updated = ROW_COUNT;
IF v_updated > 0 THEN
    %s
END IF;
v_total := v_total + v_updated;
`, r.tbl(), quote(rr.Column), score, inRange, quote(rr.Column), score, auditInsert(schema.AuditRisk, "pg_catalog.jsonb_build_object('updated', v_updated)"))
	}
	return "\nDECLARE\n" + r.keyDecl() + r.nowDecl() +
		fmt.Sprintf("    v_window timestamptz := pg_catalog.now() - interval '%d days';\n", rr.ValidationWindowDays) +
		fmt.Sprintf("    v_window_utc timestamp := pg_catalog.timezone('UTC', pg_catalog.now()) - interval '%d days';\n", rr.ValidationWindowDays) +
		"    v_updated bigint;\n    v_total bigint := 0;\nBEGIN\n" +
		r.keyset(fmt.Sprint(schema.Change.MaintenanceRows), op) +
		"    IF v_total = 0 THEN\n        " + auditInsert(schema.AuditRisk, "pg_catalog.jsonb_build_object('updated', 0)") + "\n    END IF;\nEND\n"
}

// retireBody keeps history on rollback (see the MySQL twin): the session table's security data is
// copied to <table>_security_retired_<UTC ts>; a non-empty audit log or archive is renamed to
// <name>_retired_<ts>, its indexes with it (index names are per schema, a later up creates them again);
// an empty one is dropped. Any other name is refused.
func (r renderer) retireBody() string {
	n := r.t.Names
	var names, preds []string
	for _, c := range schema.Change.Columns {
		names = append(names, literal(c.Name))
		switch c.Default {
		case schema.DefaultOne:
			preds = append(preds, "WHEN "+literal(c.Name)+" THEN pg_catalog.quote_ident(a.attname) || ' IS DISTINCT FROM 1'")
		case schema.DefaultZero:
			preds = append(preds, "WHEN "+literal(c.Name)+" THEN pg_catalog.quote_ident(a.attname) || ' IS DISTINCT FROM 0'")
		}
	}
	return fmt.Sprintf(`
DECLARE
    v_ts     text := to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS');
    v_rel    regclass;
    v_suffix text;
    v_target text;
    v_n      int := 0;
    v_cols   text;
    v_pred   text;
    v_has    boolean;
    v_idx    record;
    v_schema regnamespace := $s$%[4]s$s$::regnamespace;
BEGIN
    IF p_table NOT IN (%[1]s, %[2]s, %[3]s) THEN
        RAISE EXCEPTION 'sessionsec_retire_table: %% is not a table of this change', p_table;
    END IF;
    v_rel := to_regclass(format('%%s.%%I', v_schema, p_table));
    IF v_rel IS NULL THEN
        RETURN;
    END IF;
    IF p_table = %[1]s THEN
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE a.attname %[5]s
                          ELSE quote_ident(a.attname) || ' IS NOT NULL' END, ' OR ' ORDER BY a.attnum)
          INTO v_cols, v_pred
          FROM pg_attribute a
         WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attname IN (%[6]s);
        IF v_cols IS NULL THEN
            RETURN;
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %%s WHERE %%s)', v_rel, v_pred) INTO v_has;
        IF NOT v_has THEN
            RETURN;
        END IF;
        v_target := %[7]s || v_ts;
        WHILE to_regclass(format('%%s.%%I', v_schema, v_target)) IS NOT NULL LOOP
            v_n := v_n + 1;
            v_target := %[7]s || v_ts || '_' || v_n;
        END LOOP;
        EXECUTE format('CREATE TABLE %%s.%%I AS SELECT %%I, %%s FROM %%s WHERE %%s', v_schema, v_target, %[8]s, v_cols, v_rel, v_pred);
        RETURN;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %%s)', v_rel) INTO v_has;
    IF NOT v_has THEN
        EXECUTE format('DROP TABLE %%s', v_rel);
        RETURN;
    END IF;
    v_suffix := %[9]s || v_ts;
    WHILE to_regclass(format('%%s.%%I', v_schema, p_table || v_suffix)) IS NOT NULL LOOP
        v_n := v_n + 1;
        v_suffix := %[9]s || v_ts || '_' || v_n;
    END LOOP;
    FOR v_idx IN
        SELECT ic.relname AS name FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = v_rel
    LOOP
        EXECUTE format('ALTER INDEX %%s.%%I RENAME TO %%I', v_schema, v_idx.name, left(v_idx.name, 63 - length(v_suffix)) || v_suffix);
    END LOOP;
    EXECUTE format('ALTER TABLE %%s RENAME TO %%I', v_rel, p_table || v_suffix);
END
`, literal(n.Table), literal(n.AuditLog), literal(n.Archive), schemaMark, strings.Join(preds, " "), strings.Join(names, ", "),
		literal(n.SecurityCopy), literal(r.t.Col(schema.RoleKey)), literal(schema.Change.RetiredInfix))
}

// Objects lists what a step creates, as Inspect reports it.
func (d Dialect) Objects(t dialect.Target, step schema.Step, srv dialect.Server) dialect.Objects {
	r := renderer{t: t}
	n := t.Names
	sub := func(s string) string { return strings.ReplaceAll(s, schemaMark, capsOf(srv).quotedSchema) }
	var o dialect.Objects
	switch step.Kind {
	case schema.StepAddColumns, schema.StepValidateCheck:
		o.Checks = append(o.Checks, &dialect.Check{Table: n.Table, Name: n.RiskCheck, Expr: normalizeExpr(riskCheck()),
			Validated: step.Kind == schema.StepValidateCheck})
	case schema.StepIndex:
		ix := &dialect.Index{Table: n.Table, Name: n.Index(*step.Index), Columns: step.Index.Columns, Valid: true, Method: "btree"}
		if step.Index.Partial != nil {
			ix.Predicate = normalizeExpr(step.Index.Partial.String())
		}
		o.Indexes = append(o.Indexes, ix)
	case schema.StepAuditLog:
		o.Indexes = append(o.Indexes, dialect.AuditIndexObjects()...)
	case schema.StepTrigger:
		fn, tr := r.trigger(*step.Trigger, step.Rev())
		o.Triggers = append(o.Triggers, &dialect.Trigger{Name: tr.name, Table: tr.table, Timing: tr.timing, Event: tr.event, Row: true,
			Body: sub(fn.body), Function: fn.name})
		o.Routines = append(o.Routines, &dialect.Routine{Name: fn.name, Kind: fn.kind, Body: sub(fn.body)})
	case schema.StepRoutine:
		for _, rt := range r.routines(step.Routine) {
			o.Routines = append(o.Routines, &dialect.Routine{Name: rt.name, Kind: rt.kind, Body: sub(rt.body)})
		}
	}
	return o
}

// ourIndexNames lists the names of the change's indexes around a session table: Inspect reads every
// index of the schema carrying one of them (index names are per schema).
func ourIndexNames(tables []string) []string {
	if len(tables) == 0 {
		return nil
	}
	n := schema.NamesFor(tables[0])
	var out []string
	for _, ix := range schema.Change.Indexes {
		out = append(out, n.Index(ix))
	}
	for _, ix := range schema.Change.AuditIndexes {
		out = append(out, ix.Name)
	}
	return out
}
