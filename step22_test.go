package sessionsec_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// allColumns is every column of every row of the table, keyed by id, as text: "kept everything".
func allColumns(t *testing.T, s sdk) map[string]string {
	t.Helper()
	rows, err := s.db.QueryContext(ctxT(t), s.q("SELECT * FROM %s ORDER BY id"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		id := ""
		for i, c := range cols {
			if c == "id" {
				id = vals[i].String
			}
			fmt.Fprintf(&b, "%s=%v/%q ", c, vals[i].Valid, vals[i].String)
		}
		out[id] = b.String()
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRows(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	requireT(t, len(got) == len(want), "%s: %d rows, want %d", what, len(got), len(want))
	for id, w := range want {
		requireT(t, got[id] == w, "%s: row %s changed:\n%s\nwant\n%s", what, id, got[id], w)
	}
}

func ipHashOf(t *testing.T, s sdk, id string) sql.NullString {
	t.Helper()
	var h sql.NullString
	requireT(t, s.db.QueryRow(s.q("SELECT created_ip_hash FROM %s WHERE id = ?"), id).Scan(&h) == nil, "created_ip_hash of %s", id)
	return h
}

// TestStep22 (issue 17 item 6): step 22 on an installed version 21 database (rows before the change,
// rows the version 1 trigger wrote, sealed rows) keeps every column value; a row inserted at 22 gets no
// unkeyed created_ip_hash and verifies as unsealed until SealSession seals it; Validate judges 21 as
// one pending step and 22 as current; Rollback to 21 keeps the seals and restores the revision 1
// trigger; the seal functions ask for version 22 with ErrNotMigrated.
func TestStep22(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ring := mustRing(t, "ka", map[string][]byte{"ka": testKey('a')})
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create()
		now := time.Now().UTC().Truncate(time.Second)
		for _, x := range s.rows(40, now) {
			s.insert(x)
		}
		const ip = "203.0.113.7"
		unkeyed, _ := schema.IPHash(ip)
		row := func(id string) sdkSession {
			x := s.rows(1, now)[0]
			x.ID, x.IP = id, ip
			return x
		}

		// Version 21: the revision 1 trigger writes the unkeyed IP hash; Validate reports the pending step.
		// Installed by the stock golang-migrate path up to 21, as a database of the release before.
		applyStockTo(t, d, "agui", 21)
		s.insert(row("at21"))
		requireT(t, ipHashOf(t, s, "at21").String == unkeyed, "the revision 1 trigger wrote %v", ipHashOf(t, s, "at21"))
		pendingOnlyAt21(t, d)
		_, err := sessionsec.Seal(ctxT(t), d.DB, ring)
		requireT(t, errors.Is(err, sessionsec.ErrNotMigrated) && strings.Contains(err.Error(), "run Migrate"), "Seal at 21: %v", err)
		_, err = sessionsec.VerifySession(ctxT(t), d.DB, ring, "at21")
		requireT(t, errors.Is(err, sessionsec.ErrNotMigrated), "VerifySession at 21: %v", err)

		// Step 22 keeps every value.
		before := allColumns(t, s)
		requireT(t, sessionsec.Preflight(ctxT(t), d.DB) == nil, "Preflight of step 22")
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		sameRows(t, "step 22", allColumns(t, s), before)

		// A row inserted at 22: no unkeyed IP hash, unsealed until sealed, then valid with a keyed binding.
		s.insert(row("at22"))
		requireT(t, !ipHashOf(t, s, "at22").Valid, "step 22's trigger wrote created_ip_hash %v", ipHashOf(t, s, "at22"))
		var v1 sql.NullString
		requireT(t, d.DB.QueryRow(s.q("SELECT security_hash FROM %s WHERE id = ?"), "at22").Scan(&v1) == nil && v1.Valid, "the version 1 hash of a new row")
		requireT(t, verdict(t, d, ring, "at22").Status == sessionsec.SealUnsealed, "a new row must verify as unsealed")
		requireT(t, sessionsec.SealSession(ctxT(t), d.DB, ring, "at22") == nil, "SealSession")
		v := verdict(t, d, ring, "at22")
		requireT(t, v.Status == sessionsec.SealValid && v.KeyID == "ka", "after SealSession: %+v", v)
		keyed := ipHashOf(t, s, "at22")
		requireT(t, keyed.Valid && keyed.String != unkeyed, "the sealer's IP binding %v must be keyed", keyed)

		res, err := sessionsec.Seal(ctxT(t), d.DB, ring)
		requireT(t, err == nil && res.Sealed == 41 && res.Tampered == 0, "Seal: %v %v", res, err)
		sealed := allColumns(t, s)

		// Rollback to 21: the seals stay, the revision 1 trigger is back.
		mustRollback(t, d.DB, sessionsec.WithTargetVersion(21))
		st, err := sessionsec.Status(ctxT(t), d.DB)
		requireT(t, err == nil && st.Version == 21 && !st.Dirty, "status after Rollback to 21: %+v %v", st, err)
		sameRows(t, "Rollback to 21", allColumns(t, s), sealed)
		pendingOnlyAt21(t, d)
		s.insert(row("back21"))
		requireT(t, ipHashOf(t, s, "back21").String == unkeyed, "after Rollback to 21 the trigger wrote %v", ipHashOf(t, s, "back21"))

		// And forward again: everything kept, the seals still verify.
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		after := allColumns(t, s)
		delete(after, "back21")
		sameRows(t, "step 22 again", after, sealed)
		requireT(t, verdict(t, d, ring, "at22").Status == sessionsec.SealValid, "a sealed row after Rollback and Migrate")
		vr, err := sessionsec.Verify(ctxT(t), d.DB, ring)
		requireT(t, err == nil && vr.Valid == 42 && vr.Unsealed == 1 && vr.Tampered == 0, "Verify: %v %v", vr, err)
	})
}

// TestStep22Plan: the plan of a version 21 database has step 22 alone, a trigger step.
func TestStep22Plan(t *testing.T) {
	requireT(t, schema.Latest() == 22, "latest %d", schema.Latest())
	last := schema.Steps[len(schema.Steps)-1]
	up, down := last.FileNames("sessions")
	requireT(t, up == "000022_insert_trigger_v2.up.sql" && down == "000022_insert_trigger_v2.down.sql", "file names %s %s", up, down)
	prev, ok := schema.PreviousRevision(schema.Steps, last)
	requireT(t, ok && prev.Version == 7, "step 22 revises step 7's trigger, got %+v %t", prev, ok)
	requireT(t, schema.Superseded(schema.Steps, prev, 22) && !schema.Superseded(schema.Steps, prev, 21), "step 7 is superseded at 22 only")
}

// TestStep22InterruptedSwap: on MySQL and MariaDB step 22 replaces the insert trigger through a
// stand-in trigger; a run cut off with the stand-in still there (version 22 dirty going up, 21 dirty
// going down) is finished by a plain Migrate or Rollback, leaving exactly one insert trigger of the
// revision the version calls for.
func TestStep22InterruptedSwap(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect != "mysql" {
			t.Skipf("skipping %s: only MySQL and MariaDB replace a trigger through a stand-in", d.Server.Name)
		}
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create()
		now := time.Now().UTC().Truncate(time.Second)
		for _, x := range s.rows(20, now) {
			s.insert(x)
		}
		mustMigrate(t, d.DB)
		standIn := "CREATE TRIGGER sessionsec_swap_insert BEFORE INSERT ON sessions FOR EACH ROW PRECEDES sessions_security_hash_trigger " +
			"SET NEW.security_version = COALESCE(NEW.security_version, 1)"
		triggers := func() []string {
			t.Helper()
			var out []string
			for _, tr := range catalog(t, d, "sessions").Triggers {
				if tr.Table == "sessions" && strings.EqualFold(tr.Event, "INSERT") {
					out = append(out, tr.Name)
				}
			}
			return out
		}
		one := func(when string) {
			t.Helper()
			got := triggers()
			requireT(t, len(got) == 1 && got[0] == "sessions_security_hash_trigger", "%s: insert triggers %v", when, got)
		}
		ipAfterInsert := func(id string) sql.NullString {
			t.Helper()
			x := s.rows(1, now)[0]
			x.ID, x.IP = id, "203.0.113.9"
			s.insert(x)
			return ipHashOf(t, s, id)
		}

		// Cut off going down: version 21 dirty, the stand-in next to the revision 2 trigger.
		mustExec(t, d.DB, standIn)
		mustExec(t, d.DB, fmt.Sprintf("UPDATE %s SET version = 21, dirty = true", sessionsec.DefaultMigrationsTable))
		mustRollback(t, d.DB, sessionsec.WithTargetVersion(21))
		one("after the resumed Rollback")
		requireT(t, ipAfterInsert("down-1").Valid, "at 21 the revision 1 trigger writes the IP hash")
		pendingOnlyAt21(t, d)

		// Cut off going up: version 22 dirty, the stand-in next to the revision 1 trigger.
		mustExec(t, d.DB, standIn)
		mustExec(t, d.DB, fmt.Sprintf("UPDATE %s SET version = 22, dirty = true", sessionsec.DefaultMigrationsTable))
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		one("after the resumed Migrate")
		requireT(t, !ipAfterInsert("up-1").Valid, "at 22 the trigger must leave created_ip_hash to the sealer")
	})
}

// pendingOnlyAt21 checks that Validate reports a database at 21 as one pending step and nothing else.
func pendingOnlyAt21(t *testing.T, d *testdb.DB) {
	t.Helper()
	rep, err := sessionsec.Validate(ctxT(t), d.DB)
	requireT(t, errors.Is(err, sessionsec.ErrValidation) && rep != nil && rep.Version == 21 && rep.Latest == 22 && !rep.Dirty, "Validate at 21: %v", err)
	requireT(t, len(rep.Problems) == 1 && strings.Contains(rep.Problems[0].Fix, "run Migrate") && strings.Contains(rep.Problems[0].Want, "22"),
		"Validate at 21 must report only the pending step: %+v", rep.Problems)
}
