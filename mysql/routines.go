package mysql

import (
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// triggerDef is one trigger: its CREATE statement is assembled from these parts, and Body is what
// information_schema.TRIGGERS.ACTION_STATEMENT reports back (Validate compares them).
type triggerDef struct {
	name, timing, event, body, doc string
	table                          string
}

func (t triggerDef) create(order string) string {
	s := fmt.Sprintf("CREATE TRIGGER IF NOT EXISTS %s\n%s %s ON %s\nFOR EACH ROW\n", quote(t.name), t.timing, t.event, quote(t.table))
	if order != "" {
		s += order + "\n"
	}
	return s + t.body
}

// routineDef is one stored routine; Body is what information_schema.ROUTINES.ROUTINE_DEFINITION
// reports back.
type routineDef struct {
	name, kind, params, returns, traits, body string
}

func (r routineDef) create() string {
	head := fmt.Sprintf("CREATE %s IF NOT EXISTS %s(%s)", r.kind, quote(r.name), r.params)
	if r.returns != "" {
		head += " RETURNS " + r.returns
	}
	return head + "\n" + r.traits + "\n" + r.body
}

func (r routineDef) drop() string { return "DROP " + r.kind + " IF EXISTS " + quote(r.name) }

func comment(doc string) string { return "    COMMENT " + literal(RoutineCommentPrefix+" "+doc) }

// trigger returns the trigger's definition at revision rev (see schema.RevisionKeyedIP).
func (r renderer) trigger(tr schema.Trigger, rev uint) triggerDef {
	n := r.t.Names
	if tr.Event == schema.Insert {
		ipHash := rev < schema.RevisionKeyedIP
		ipDoc := ""
		if ipHash {
			ipDoc = dialect.IPDoc(r.t)
		}
		return triggerDef{name: n.Trigger(tr), timing: string(tr.Timing), event: string(tr.Event), table: n.Table,
			doc: "New rows: risk range check, defaults, the canonical hash (an application-supplied one is kept)" +
				ipDoc + ".\n-- Installed before the backfill, so rows written meanwhile never keep a NULL hash.",
			body: r.insertTriggerBody(ipHash)}
	}
	return triggerDef{name: n.Trigger(tr), timing: string(tr.Timing), event: string(tr.Event), table: n.Table,
		doc:  "Updates: risk range check; a NULL-safe change of " + r.t.Col(schema.RoleLastAccessed) + " refreshes last_validated_at.",
		body: r.updateTriggerBody()}
}

// insertTriggerBody is the insert trigger's body; ipHash tells whether it fills the unkeyed
// created_ip_hash (revision 1 only).
func (r renderer) insertTriggerBody(ipHash bool) string {
	var b strings.Builder
	// The hash reads created in UTC (see epoch): the trigger switches the session to '+00:00' around it and
	// restores the inserting session's zone, also when the statement fails.
	b.WriteString("BEGIN\n    DECLARE v_tz VARCHAR(64) DEFAULT @@session.time_zone;\n" +
		"    DECLARE EXIT HANDLER FOR SQLEXCEPTION\n    BEGIN\n        SET time_zone = v_tz;\n        RESIGNAL;\n    END;\n")
	b.WriteString(r.riskGuard())
	fmt.Fprintf(&b, "    IF NEW.`security_version` IS NULL THEN\n        SET NEW.`security_version` = 1;\n    END IF;\n")
	fmt.Fprintf(&b, "    IF NEW.`last_validated_at` IS NULL THEN\n        SET NEW.`last_validated_at` = %s;\n    END IF;\n", r.now("last_validated_at"))
	fmt.Fprintf(&b, "    IF NEW.`security_hash` IS NULL THEN\n        SET time_zone = '+00:00';\n        SET NEW.`security_hash` = %s;\n        SET time_zone = v_tz;\n    END IF;\n", r.hash("NEW."))
	if ipHash && r.t.Has(schema.RoleIP) {
		fmt.Fprintf(&b, "    IF NEW.`created_ip_hash` IS NULL THEN\n        SET NEW.`created_ip_hash` = %s;\n    END IF;\n", r.ipHash("NEW."))
	}
	b.WriteString("END")
	return b.String()
}

func (r renderer) updateTriggerBody() string {
	la := r.col(schema.RoleLastAccessed)
	return "BEGIN\n" + r.riskGuard() +
		fmt.Sprintf("    IF NOT (NEW.%s <=> OLD.%s) THEN\n        SET NEW.`last_validated_at` = %s;\n    END IF;\n", la, la, r.now("last_validated_at")) +
		"END"
}

func (r renderer) routine(name string) routineDef {
	doc := schema.Change.Routine(name).Doc
	switch name {
	case schema.RoutineHash:
		// The body is byte-for-byte the one of every release so far: replacing a function that live
		// triggers call would leave a moment in which inserts fail. Parameters are utf8mb4 so a latin1
		// (or other) column is hashed as its UTF-8 bytes; no MD5/SHA1 (gone in MySQL 9).
		return routineDef{name: name, kind: "FUNCTION", returns: "CHAR(64) CHARACTER SET ascii",
			params: "\n    p_session_id TEXT CHARACTER SET utf8mb4,\n    p_user_id TEXT CHARACTER SET utf8mb4,\n    p_created_epoch BIGINT\n",
			traits: "    DETERMINISTIC\n    NO SQL\n    SQL SECURITY INVOKER\n    COMMENT 'sessionsec: canonical security hash, sessionsec/v1'",
			body: `RETURN SHA2(CONVERT(CONCAT(
    '` + schema.HashPrefix + `|',
    IF(p_session_id IS NULL, '-', CONCAT(LENGTH(CONVERT(p_session_id USING utf8mb4)), ':', CONVERT(p_session_id USING utf8mb4))),
    '|',
    IF(p_user_id IS NULL, '-', CONCAT(LENGTH(CONVERT(p_user_id USING utf8mb4)), ':', CONVERT(p_user_id USING utf8mb4))),
    '|',
    IF(p_created_epoch IS NULL, '-', CAST(p_created_epoch AS CHAR))
) USING utf8mb4), 256)`}
	case schema.RoutineBackfill:
		return routineDef{name: name, kind: "PROCEDURE", params: "IN p_batch INT",
			traits: "    MODIFIES SQL DATA\n    SQL SECURITY INVOKER\n" + comment(doc), body: r.backfillBody()}
	case schema.RoutineCleanup:
		return routineDef{name: name, kind: "PROCEDURE",
			traits: "    MODIFIES SQL DATA\n    SQL SECURITY INVOKER\n" + comment(doc), body: r.cleanupBody()}
	case schema.RoutineRisk:
		return routineDef{name: name, kind: "PROCEDURE",
			traits: "    MODIFIES SQL DATA\n    SQL SECURITY INVOKER\n" + comment(doc), body: r.riskBody()}
	case schema.RoutineRetire:
		return routineDef{name: name, kind: "PROCEDURE", params: "IN p_table VARCHAR(64)",
			traits: "    MODIFIES SQL DATA\n    SQL SECURITY INVOKER\n" + comment(doc), body: r.retireBody()}
	}
	panic("mysql: unknown routine " + name)
}

// Session variables of the keyset loop. User variables, not DECLAREd ones: they take the key column's
// own type and collation from the SELECT INTO, so a latin1 or binary key still walks its primary key
// range (a utf8mb4 local variable would force a conversion and a scan per batch).
const (
	lo, hi = "@sessionsec_lo", "@sessionsec_hi"
)

// keyset is the batch skeleton every routine shares: walk the key in batches of limit keys, in key
// order (never a bare LIMIT), and run op on each range. op gets the lower-bound comparison (">=" for
// the first batch, ">" after) and returns statements using range(lower).
func (r renderer) keyset(limit string, op func(lower string) string) string {
	k, t := r.col(schema.RoleKey), quote(r.t.Names.Table)
	var b strings.Builder
	fmt.Fprintf(&b, "    SET %s = NULL, %s = NULL;\n", lo, hi)
	fmt.Fprintf(&b, "    SELECT MIN(%s) INTO %s FROM %s;\n", k, lo, t)
	fmt.Fprintf(&b, "    IF %s IS NOT NULL THEN\n", lo)
	fmt.Fprintf(&b, "        SELECT MAX(%s) INTO %s FROM (\n            SELECT %s FROM %s WHERE %s >= %s ORDER BY %s LIMIT %s) AS b;\n", k, hi, k, t, k, lo, k, limit)
	b.WriteString(dialect.Indent(op(">="), "        "))
	fmt.Fprintf(&b, "        SET %s = %s;\n", lo, hi)
	fmt.Fprintf(&b, "        WHILE %s IS NOT NULL DO\n", lo)
	fmt.Fprintf(&b, "            SET %s = NULL;\n", hi)
	fmt.Fprintf(&b, "            SELECT MAX(%s) INTO %s FROM (\n                SELECT %s FROM %s WHERE %s > %s ORDER BY %s LIMIT %s) AS b;\n", k, hi, k, t, k, lo, k, limit)
	fmt.Fprintf(&b, "            IF %s IS NOT NULL THEN\n", hi)
	b.WriteString(dialect.Indent(op(">"), "                "))
	b.WriteString("            END IF;\n")
	fmt.Fprintf(&b, "            SET %s = %s;\n", lo, hi)
	b.WriteString("        END WHILE;\n    END IF;\n")
	fmt.Fprintf(&b, "    SET %s = NULL, %s = NULL;\n", lo, hi)
	return b.String()
}

func (r renderer) inRange(lower string) string {
	k := r.col(schema.RoleKey)
	return fmt.Sprintf("%s %s %s AND %s <= %s", k, lower, lo, k, hi)
}

// utcPrologue makes the routine run in UTC and restores the caller's time zone on every exit: a
// TIMESTAMP column is then read as its UTC instant and a DATETIME compared as a UTC wall clock, whatever
// time zone the calling connection uses. cleanup lists what else the error path must reset.
func utcPrologue(cleanup string) string {
	return "    DECLARE EXIT HANDLER FOR SQLEXCEPTION\n    BEGIN\n" + cleanup +
		"        SET time_zone = v_tz, " + lo + " = NULL, " + hi + " = NULL;\n        RESIGNAL;\n    END;\n" +
		"    SET time_zone = '+00:00';\n"
}

const utcEpilogue = "    SET time_zone = v_tz;\n"

func (r renderer) backfillSet() string {
	sets := []string{
		"`security_hash` = COALESCE(`security_hash`, " + r.hash("") + ")",
		"`encryption_key_id` = COALESCE(`encryption_key_id`, " + literal(schema.Change.DefaultKeyID) + ")",
		"`last_validated_at` = COALESCE(`last_validated_at`, UTC_TIMESTAMP(6))",
	}
	if r.t.Has(schema.RoleIP) {
		sets = append(sets, "`created_ip_hash` = COALESCE(`created_ip_hash`, "+r.ipHash("")+")")
	}
	return strings.Join(sets, ",\n       ")
}

// backfillPending selects the rows the backfill still has to fill.
func (r renderer) backfillPending() string {
	if r.t.Has(schema.RoleIP) {
		return "(`security_hash` IS NULL OR (`created_ip_hash` IS NULL AND " + r.col(schema.RoleIP) + " IS NOT NULL))"
	}
	return "`security_hash` IS NULL"
}

func (r renderer) backfillBody() string {
	op := func(lower string) string {
		return fmt.Sprintf("UPDATE %s\n   SET %s\n WHERE %s AND %s;\n", quote(r.t.Names.Table), r.backfillSet(), r.inRange(lower), r.backfillPending())
	}
	return "BEGIN\n    DECLARE v_tz VARCHAR(64) DEFAULT @@session.time_zone;\n" + utcPrologue("") +
		fmt.Sprintf("    IF p_batch IS NULL OR p_batch < 1 THEN\n        SET p_batch = %d;\n    END IF;\n", schema.Change.BackfillBatch) +
		r.keyset("p_batch", op) + utcEpilogue + "END"
}

// expiredPredicate is what cleanup removes besides risky rows: expired (a NULL expiry never expires)
// or, where the layout has an active flag, inactive - as the SDK's own cleanup does.
func (r renderer) expiredPredicate(now string) string {
	p := r.col(schema.RoleExpires) + " < " + now
	if r.t.Has(schema.RoleActive) {
		p += " OR " + r.col(schema.RoleActive) + " = 0"
	}
	return p
}

// riskScore renders schema.Change.Risk's scoring rule over the current row.
func (r renderer) riskScore(now, windowStart string) string {
	rr := schema.Change.Risk
	terms := []string{
		fmt.Sprintf("%d * (`security_hash` IS NULL)", rr.NoHash),
		fmt.Sprintf("%d * (COALESCE(%s <= %s, 0) %s)", rr.Expired, r.col(schema.RoleExpires), now, r.inactiveOr()),
	}
	if r.t.Has(schema.RoleIP) {
		terms = append(terms, fmt.Sprintf("%d * (`created_ip_hash` IS NULL)", rr.NoIPHash))
	}
	terms = append(terms, fmt.Sprintf("%d * COALESCE(`last_validated_at` < %s, 1)", rr.NotValidated, windowStart))
	return fmt.Sprintf("LEAST(%d, %s)", rr.Max, strings.Join(terms, " + "))
}

func (r renderer) inactiveOr() string {
	if !r.t.Has(schema.RoleActive) {
		return ""
	}
	return "OR " + r.col(schema.RoleActive) + " = 0"
}

func auditInsert(action, details string) string {
	return fmt.Sprintf("INSERT INTO %s (`action`, `details`) VALUES (%s, %s);", quote(schema.Change.AuditLog), literal(action), details)
}

func (r renderer) cleanupBody() string {
	rr := schema.Change.Risk
	t, k := quote(r.t.Names.Table), r.col(schema.RoleKey)
	pred := fmt.Sprintf("(%s OR `%s` > %d)", r.expiredPredicate("v_now"), rr.Column, rr.CleanupThreshold)
	op := func(lower string) string {
		return fmt.Sprintf(`START TRANSACTION;
SET v_fk = 0, v_deleted = 0, v_blocked = 0;
DELETE FROM %[1]s WHERE %[2]s AND %[3]s;
SET v_rc = ROW_COUNT();
IF v_fk = 1 THEN
    -- A child row (FOREIGN KEY ... RESTRICT) blocks the batch: delete row by row, by position among the
    -- rows still to go, read as they are now and locked (FOR UPDATE: not an older snapshot, in which a
    -- row deleted or extended meanwhile would be found again and again). A held row, or one the DELETE
    -- no longer finds, moves the position on: each row is tried once. The DELETE re-checks the rule, so
    -- a session extended meanwhile stays, and only the rows it deleted count.
    SET v_skip = 0;
    row_loop: LOOP
        SET @sessionsec_row = NULL;
        SELECT %[4]s INTO @sessionsec_row FROM %[1]s WHERE %[2]s AND %[3]s ORDER BY %[4]s LIMIT v_skip, 1 FOR UPDATE;
        IF @sessionsec_row IS NULL THEN
            LEAVE row_loop;
        END IF;
        SET v_fk = 0;
        DELETE FROM %[1]s WHERE %[4]s = @sessionsec_row AND %[3]s;
        SET v_rc = ROW_COUNT();
        IF v_fk = 1 THEN
            SET v_blocked = v_blocked + 1, v_skip = v_skip + 1;
        ELSEIF v_rc < 1 THEN
            SET v_skip = v_skip + 1;
        ELSE
            SET v_deleted = v_deleted + v_rc;
        END IF;
    END LOOP;
    SET @sessionsec_row = NULL;
ELSE
    SET v_deleted = v_rc;
END IF;
IF v_deleted > 0 OR v_blocked > 0 THEN
    %[5]s
END IF;
COMMIT;
SET v_total = v_total + v_deleted, v_total_blocked = v_total_blocked + v_blocked;
`, t, r.inRange(lower), pred, k, auditInsert(schema.AuditCleanup, "JSON_OBJECT('blocked', v_blocked + 0, 'deleted', v_deleted + 0)"))
	}
	return "BEGIN\n" +
		"    DECLARE v_tz VARCHAR(64) DEFAULT @@session.time_zone;\n" +
		"    DECLARE v_now DATETIME(6);\n" +
		fmt.Sprintf("    DECLARE v_batch INT DEFAULT %d;\n", schema.Change.MaintenanceRows) +
		"    DECLARE v_fk, v_deleted, v_blocked, v_rc, v_total, v_total_blocked BIGINT DEFAULT 0;\n" +
		"    DECLARE v_skip INT DEFAULT 0;\n" +
		"    DECLARE CONTINUE HANDLER FOR 1451 SET v_fk = 1;\n" +
		utcPrologue("        ROLLBACK;\n        SET @sessionsec_row = NULL;\n") +
		"    SET v_now = UTC_TIMESTAMP(6);\n" +
		r.keyset("v_batch", op) +
		"    IF v_total = 0 AND v_total_blocked = 0 THEN\n        " +
		auditInsert(schema.AuditCleanup, "JSON_OBJECT('blocked', 0, 'deleted', 0)") + "\n    END IF;\n" +
		utcEpilogue + "END"
}

func (r renderer) riskBody() string {
	rr := schema.Change.Risk
	score := r.riskScore("v_now", "v_window")
	op := func(lower string) string {
		return fmt.Sprintf(`START TRANSACTION;
UPDATE %s SET `+"`%s`"+` = %s
 WHERE %s AND `+"`%s`"+` < %s;
SET v_rc = ROW_COUNT();
IF v_rc > 0 THEN
    %s
END IF;
COMMIT;
SET v_total = v_total + v_rc;
`, quote(r.t.Names.Table), rr.Column, score, r.inRange(lower), rr.Column, score,
			auditInsert(schema.AuditRisk, "JSON_OBJECT('updated', v_rc + 0)"))
	}
	return "BEGIN\n" +
		"    DECLARE v_tz VARCHAR(64) DEFAULT @@session.time_zone;\n" +
		"    DECLARE v_now, v_window DATETIME(6);\n" +
		fmt.Sprintf("    DECLARE v_batch INT DEFAULT %d;\n", schema.Change.MaintenanceRows) +
		"    DECLARE v_rc, v_total BIGINT DEFAULT 0;\n" +
		utcPrologue("        ROLLBACK;\n") +
		"    SET v_now = UTC_TIMESTAMP(6);\n" +
		fmt.Sprintf("    SET v_window = v_now - INTERVAL %d DAY;\n", rr.ValidationWindowDays) +
		r.keyset("v_batch", op) +
		"    IF v_total = 0 THEN\n        " + auditInsert(schema.AuditRisk, "JSON_OBJECT('updated', 0)") + "\n    END IF;\n" +
		utcEpilogue + "END"
}

// retireBody keeps history on rollback. The session table itself is never dropped: before its security
// columns go, rows carrying security data are copied (key + the columns that exist) to
// <table>_security_retired_<UTC ts>. The audit log and the archive are renamed to <name>_retired_<ts>
// when they hold rows and dropped when empty. Any other table name is refused.
func (r renderer) retireBody() string {
	n := r.t.Names
	var names, preds []string
	for _, c := range schema.Change.Columns {
		names = append(names, literal(c.Name))
		switch c.Default {
		case schema.DefaultOne:
			preds = append(preds, "WHEN "+literal(c.Name)+" THEN "+literal("NOT (`"+c.Name+"` <=> 1)"))
		case schema.DefaultZero:
			preds = append(preds, "WHEN "+literal(c.Name)+" THEN "+literal("NOT (`"+c.Name+"` <=> 0)"))
		}
	}
	exec := "            PREPARE sessionsec_retire_stmt FROM @sessionsec_retire_sql;\n" +
		"            EXECUTE sessionsec_retire_stmt;\n            DEALLOCATE PREPARE sessionsec_retire_stmt;\n"
	tsNow := "DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s')"
	freeName := func(prefix, ind string) string {
		return ind + "SET v_ts = " + tsNow + ";\n" +
			ind + "WHILE EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()\n" +
			ind + "              AND TABLE_NAME = CONCAT(" + prefix + ", v_ts)) DO\n" +
			ind + "    DO SLEEP(1);\n" + ind + "    SET v_ts = " + tsNow + ";\n" + ind + "END WHILE;\n"
	}
	return "BEGIN\n" +
		"    DECLARE v_ts CHAR(14);\n    DECLARE v_n INT DEFAULT 0;\n    DECLARE v_cols, v_pred TEXT;\n" +
		"    IF p_table NOT IN (" + literal(n.Table) + ", " + literal(n.AuditLog) + ", " + literal(n.Archive) + ") THEN\n" +
		"        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'sessionsec_retire_table: not a table of this change';\n    END IF;\n" +
		"    SELECT COUNT(*) INTO v_n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = p_table;\n" +
		"    SET @sessionsec_retire_rows = 0;\n" +
		"    IF v_n = 1 AND p_table = " + literal(n.Table) + " THEN\n" +
		"        SELECT GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`') ORDER BY ORDINAL_POSITION SEPARATOR ', '),\n" +
		"               GROUP_CONCAT(CASE COLUMN_NAME " + strings.Join(preds, " ") + "\n" +
		"                   ELSE CONCAT('`', COLUMN_NAME, '` IS NOT NULL') END ORDER BY ORDINAL_POSITION SEPARATOR ' OR ')\n" +
		"          INTO v_cols, v_pred\n          FROM information_schema.COLUMNS\n" +
		"         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = " + literal(n.Table) + "\n" +
		"           AND COLUMN_NAME IN (" + strings.Join(names, ", ") + ");\n" +
		"        IF v_cols IS NOT NULL THEN\n" +
		"            SET @sessionsec_retire_sql = CONCAT('SELECT EXISTS (SELECT 1 FROM " + quote(n.Table) + " WHERE ', v_pred, ') INTO @sessionsec_retire_rows');\n" +
		exec +
		"        END IF;\n" +
		"        IF @sessionsec_retire_rows THEN\n" +
		freeName(literal(n.SecurityCopy), "            ") +
		"            SET @sessionsec_retire_sql = CONCAT('CREATE TABLE `', " + literal(n.SecurityCopy) + ", v_ts, '` (PRIMARY KEY (" +
		strings.ReplaceAll(r.col(schema.RoleKey), "'", "''") + ")) ENGINE=InnoDB AS SELECT " + strings.ReplaceAll(r.col(schema.RoleKey), "'", "''") +
		", ', v_cols, ' FROM " + quote(n.Table) + " WHERE ', v_pred);\n" +
		exec +
		"        END IF;\n" +
		"    ELSEIF v_n = 1 THEN\n" +
		"        SET @sessionsec_retire_sql = CONCAT('SELECT EXISTS (SELECT 1 FROM `', p_table, '`) INTO @sessionsec_retire_rows');\n" +
		exec +
		"        IF @sessionsec_retire_rows THEN\n" +
		freeName("p_table, "+literal(schema.Change.RetiredInfix), "            ") +
		"            SET @sessionsec_retire_sql = CONCAT('RENAME TABLE `', p_table, '` TO `', p_table, " + literal(schema.Change.RetiredInfix) + ", v_ts, '`');\n" +
		"        ELSE\n" +
		"            SET @sessionsec_retire_sql = CONCAT('DROP TABLE `', p_table, '`');\n" +
		"        END IF;\n" +
		exec +
		"    END IF;\n" +
		"    SET @sessionsec_retire_sql = NULL, @sessionsec_retire_rows = NULL;\n" +
		"END"
}

// Objects lists what a step creates, as Inspect reports it.
func (d Dialect) Objects(t dialect.Target, step schema.Step, _ dialect.Server) dialect.Objects {
	r := renderer{t: t}
	var o dialect.Objects
	switch step.Kind {
	case schema.StepIndex:
		o.Indexes = append(o.Indexes, &dialect.Index{Table: t.Names.Table, Name: t.Names.Index(*step.Index),
			Columns: step.Index.Columns, Valid: true, Method: "btree"})
	case schema.StepAuditLog:
		o.Indexes = append(o.Indexes, dialect.AuditIndexObjects()...)
	case schema.StepTrigger:
		tr := r.trigger(*step.Trigger, step.Rev())
		o.Triggers = append(o.Triggers, &dialect.Trigger{Name: tr.name, Table: tr.table, Timing: tr.timing, Event: tr.event, Row: true, Body: tr.body})
	case schema.StepRoutine:
		rt := r.routine(step.Routine)
		o.Routines = append(o.Routines, &dialect.Routine{Name: rt.name, Kind: rt.kind, Body: rt.body})
	}
	return o
}
