package sqlstmt_test

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	. "github.com/agui-go/sessionsec/internal/sqlstmt"
	"github.com/agui-go/sessionsec/mysql"
	"github.com/agui-go/sessionsec/postgres"
	"github.com/agui-go/sessionsec/sqlite"
)

// The real dialects: the builder is tested against their own Quote, Param, Before and LockRows.
var dialects = []dialect.Dialect{mysql.Dialect{}, postgres.Dialect{}, sqlite.Dialect{}}

var cutoff = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func stmt(q string, args []any) [2]any { return [2]any{q, args} }

// TestExactSQL pins the text of the batch loop's statements on every dialect.
func TestExactSQL(t *testing.T) {
	cleanup := func(d dialect.Dialect) Cond {
		return Or(Raw(d.Before("expires_at", dialect.FamInstant, cutoff)), Compare("risk_score", Gt, 50))
	}
	for _, c := range []struct {
		name string
		got  func(b Builder, d dialect.Dialect) (string, []any)
		want map[string]string
		args []any
	}{
		{"next keys, first batch", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.NextKeys("sessions", "id", nil, cleanup(d), 100)
		}, map[string]string{
			"mysql":    "SELECT `id` FROM `sessions` WHERE ((`expires_at` < '2026-01-02 03:04:05.000000') OR `risk_score` > ?) ORDER BY `id` LIMIT 100 FOR UPDATE",
			"postgres": `SELECT "id" FROM "sessions" WHERE (("expires_at" < '2026-01-02 03:04:05.000000+00'::timestamptz) OR "risk_score" > $1) ORDER BY "id" LIMIT 100 FOR UPDATE`,
			"sqlite":   `SELECT "id" FROM "sessions" WHERE ((sessionsec_epoch("expires_at") < 1767323045) OR "risk_score" > ?) ORDER BY "id" LIMIT 100`,
		}, []any{50}},
		{"next keys, after a key", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.NextKeys("sessions", "id", int64(7), cleanup(d), 100)
		}, map[string]string{
			"mysql":    "SELECT `id` FROM `sessions` WHERE `id` > ? AND ((`expires_at` < '2026-01-02 03:04:05.000000') OR `risk_score` > ?) ORDER BY `id` LIMIT 100 FOR UPDATE",
			"postgres": `SELECT "id" FROM "sessions" WHERE "id" > $1 AND (("expires_at" < '2026-01-02 03:04:05.000000+00'::timestamptz) OR "risk_score" > $2) ORDER BY "id" LIMIT 100 FOR UPDATE`,
			"sqlite":   `SELECT "id" FROM "sessions" WHERE "id" > ? AND ((sessionsec_epoch("expires_at") < 1767323045) OR "risk_score" > ?) ORDER BY "id" LIMIT 100`,
		}, []any{int64(7), 50}},
		{"delete keys", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.DeleteKeys("sessions", "id", []any{"a", "b"}, cleanup(d))
		}, map[string]string{
			"mysql":    "DELETE FROM `sessions` WHERE `id` IN (?, ?) AND ((`expires_at` < '2026-01-02 03:04:05.000000') OR `risk_score` > ?)",
			"postgres": `DELETE FROM "sessions" WHERE "id" IN ($1, $2) AND (("expires_at" < '2026-01-02 03:04:05.000000+00'::timestamptz) OR "risk_score" > $3)`,
			"sqlite":   `DELETE FROM "sessions" WHERE "id" IN (?, ?) AND ((sessionsec_epoch("expires_at") < 1767323045) OR "risk_score" > ?)`,
		}, []any{"a", "b", 50}},
		{"prune", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.DeleteKeys("session_audit_log", "id", []any{int64(1), int64(2), int64(3)}, Cond{})
		}, map[string]string{
			"mysql":    "DELETE FROM `session_audit_log` WHERE `id` IN (?, ?, ?)",
			"postgres": `DELETE FROM "session_audit_log" WHERE "id" IN ($1, $2, $3)`,
			"sqlite":   `DELETE FROM "session_audit_log" WHERE "id" IN (?, ?, ?)`,
		}, []any{int64(1), int64(2), int64(3)}},
		{"archive copy", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.CopyKeys("sessions_archive", "sessions", []string{"id", "data"}, "id", []any{"k"}, Raw(d.Before("expires_at", dialect.FamInstant, cutoff)))
		}, map[string]string{
			"mysql":    "INSERT INTO `sessions_archive` (`id`, `data`) SELECT `id`, `data` FROM `sessions` WHERE `id` IN (?) AND (`expires_at` < '2026-01-02 03:04:05.000000')",
			"postgres": `INSERT INTO "sessions_archive" ("id", "data") SELECT "id", "data" FROM "sessions" WHERE "id" IN ($1) AND ("expires_at" < '2026-01-02 03:04:05.000000+00'::timestamptz)`,
			"sqlite":   `INSERT INTO "sessions_archive" ("id", "data") SELECT "id", "data" FROM "sessions" WHERE "id" IN (?) AND (sessionsec_epoch("expires_at") < 1767323045)`,
		}, []any{"k"}},
		{"audit row", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.AuditRow("session_audit_log", "SECURITY_CLEANUP", `{"blocked": 0, "deleted": 3}`)
		}, map[string]string{
			"mysql":    "INSERT INTO `session_audit_log` (`action`, `details`) VALUES (?, ?)",
			"postgres": `INSERT INTO "session_audit_log" ("action", "details") VALUES ($1, $2)`,
			"sqlite":   `INSERT INTO "session_audit_log" ("action", "details") VALUES (?, ?)`,
		}, []any{"SECURITY_CLEANUP", `{"blocked": 0, "deleted": 3}`}},
		{"tampered audit count", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.AuditCount("session_audit_log", "SESSION_TAMPERED", Not(Raw(d.Before("created_at", dialect.FamInstant, cutoff))))
		}, map[string]string{
			"mysql":    "SELECT COUNT(*) FROM `session_audit_log` WHERE `action` = ? AND NOT (`created_at` < '2026-01-02 03:04:05.000000')",
			"postgres": `SELECT COUNT(*) FROM "session_audit_log" WHERE "action" = $1 AND NOT ("created_at" < '2026-01-02 03:04:05.000000+00'::timestamptz)`,
			"sqlite":   `SELECT COUNT(*) FROM "session_audit_log" WHERE "action" = ? AND NOT (sessionsec_epoch("created_at") < 1767323045)`,
		}, []any{"SESSION_TAMPERED"}},
		{"seal page", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.Page(Page{Table: "sessions", Key: "id", List: "x, y", After: "k", Where: NotSealedWith(2, "primary"), Limit: 10, Lock: true})
		}, map[string]string{
			"mysql": "SELECT x, y FROM `sessions` WHERE `id` > ? AND (`security_version` < ? OR `security_version` IS NULL OR " +
				"(`security_version` = ? AND (`encryption_key_id` IS NULL OR `encryption_key_id` <> ?))) ORDER BY `id` LIMIT 10 FOR UPDATE",
			"postgres": `SELECT x, y FROM "sessions" WHERE "id" > $1 AND ("security_version" < $2 OR "security_version" IS NULL OR ` +
				`("security_version" = $3 AND ("encryption_key_id" IS NULL OR "encryption_key_id" <> $4))) ORDER BY "id" LIMIT 10 FOR UPDATE`,
			"sqlite": `SELECT x, y FROM "sessions" WHERE "id" > ? AND ("security_version" < ? OR "security_version" IS NULL OR ` +
				`("security_version" = ? AND ("encryption_key_id" IS NULL OR "encryption_key_id" <> ?))) ORDER BY "id" LIMIT 10`,
		}, []any{"k", 2, 2, "primary"}},
		{"write seals", func(b Builder, d dialect.Dialect) (string, []any) {
			return b.WriteSeals("sessions", "id", []Seal{{Key: "a", Hash: "h1", IPHash: "i1"}, {Key: "b", Hash: "h2", IPHash: "i2"}}, true, "k1", 2)
		}, map[string]string{
			"mysql": "UPDATE `sessions` SET `security_hash` = CASE `id` WHEN ? THEN ? WHEN ? THEN ? END, `created_ip_hash` = CASE `id` WHEN ? THEN ? WHEN ? THEN ? END, " +
				"`encryption_key_id` = ?, `security_version` = ? WHERE `id` IN (?, ?)",
			"postgres": `UPDATE "sessions" SET "security_hash" = CASE "id" WHEN $1 THEN $2 WHEN $3 THEN $4 END, "created_ip_hash" = CASE "id" WHEN $5 THEN $6 WHEN $7 THEN $8 END, ` +
				`"encryption_key_id" = $9, "security_version" = $10 WHERE "id" IN ($11, $12)`,
			"sqlite": `UPDATE "sessions" SET "security_hash" = CASE "id" WHEN ? THEN ? WHEN ? THEN ? END, "created_ip_hash" = CASE "id" WHEN ? THEN ? WHEN ? THEN ? END, ` +
				`"encryption_key_id" = ?, "security_version" = ? WHERE "id" IN (?, ?)`,
		}, []any{"a", "h1", "b", "h2", "a", "i1", "b", "i2", "k1", 2, "a", "b"}},
	} {
		for _, d := range dialects {
			t.Run(c.name+"/"+d.Name(), func(t *testing.T) {
				q, args := c.got(For(d), d)
				if q != c.want[d.Name()] {
					t.Errorf("SQL\n got: %s\nwant: %s", q, c.want[d.Name()])
				}
				if !reflect.DeepEqual(args, c.args) {
					t.Errorf("args: got %#v, want %#v", args, c.args)
				}
			})
		}
	}
}

// Odd names: quote characters of every dialect, a space, and placeholder look-alikes, which must stay
// inside their quotes and never count as placeholders.
const (
	oddTable = "se`ss\"ion tab?le"
	oddKey   = "k`e\"y $1"
	oddCol   = "da'ta ?"
)

// Values no statement may carry in its text: quote characters, a comment, a JSON object.
var (
	oddText   = `it's "odd" -- ; DROP TABLE x`
	oddJSON   = `{"check": "it's"}`
	oddNumber = 987654321
)

// builders is every statement of the package, over odd names and values.
func builders(d dialect.Dialect) map[string]func(b Builder) (string, []any) {
	before := Raw(d.Before("created_at", dialect.FamInstant, cutoff))
	keys := []any{oddText, []byte(oddText + "2")}
	return map[string]func(b Builder) (string, []any){
		"Page": func(b Builder) (string, []any) {
			return b.Page(Page{Table: oddTable, Key: oddKey, After: oddText, Where: Compare(oddCol, Ne, oddText), Limit: 5})
		},
		"Page/locked": func(b Builder) (string, []any) {
			return b.Page(Page{Table: oddTable, Key: oddKey, List: b.SealList(oddKey, "kt", "u", "e", ""), Where: NewRows(), Limit: 5, Lock: true})
		},
		"NextKeys": func(b Builder) (string, []any) {
			return b.NextKeys(oddTable, oddKey, oddText, Or(before, Compare(oddCol, Gt, oddNumber)), 10)
		},
		"DeleteKeys": func(b Builder) (string, []any) {
			return b.DeleteKeys(oddTable, oddKey, keys, Or(before, Compare(oddCol, Gt, oddNumber)))
		},
		"SetKeys": func(b Builder) (string, []any) {
			return b.SetKeys(oddTable, oddCol, "42", oddKey, keys, CompareExpr(oddCol, Lt, "42"))
		},
		"CopyKeys": func(b Builder) (string, []any) {
			return b.CopyKeys(oddTable+"_archive", oddTable, []string{oddKey, oddCol}, oddKey, keys, before)
		},
		"HeldKeys": func(b Builder) (string, []any) { return b.HeldKeys(oddTable, oddKey, keys) },
		"AuditRow": func(b Builder) (string, []any) { return b.AuditRow(oddTable, oddText, oddJSON) },
		"AuditSessionRow": func(b Builder) (string, []any) {
			return b.AuditSessionRow(oddTable, oddText+"s", oddText, oddJSON, oddNumber)
		},
		"SessionStats": func(b Builder) (string, []any) {
			return b.SessionStats(oddTable, oddNumber, Validated(before), And(before, Compare(oddCol, Eq, oddText)))
		},
		"Count":        func(b Builder) (string, []any) { return b.Count(oddTable, Compare(oddCol, Eq, oddText)) },
		"AuditStats":   func(b Builder) (string, []any) { return b.AuditStats(oddTable, Not(before)) },
		"AuditCount":   func(b Builder) (string, []any) { return b.AuditCount(oddTable, oddText, Not(before)) },
		"AuditDetails": func(b Builder) (string, []any) { return b.AuditDetails(oddTable, oddText, Not(before)) },
		"SealedByKey":  func(b Builder) (string, []any) { return b.SealedByKey(oddTable, oddNumber) },
		"OldestUnsealed": func(b Builder) (string, []any) {
			return b.OldestUnsealed(oddTable, "epoch(x)", oddNumber)
		},
		"KeyInUse": func(b Builder) (string, []any) { return b.KeyInUse(oddTable, oddText, oddNumber) },
		"RowByKey": func(b Builder) (string, []any) { return b.RowByKey(oddTable, "a, b", oddKey, oddText, true) },
		"MarkValidated": func(b Builder) (string, []any) {
			return b.MarkValidated(oddTable, oddKey, oddText, "CURRENT_TIMESTAMP")
		},
		"RaiseRisk": func(b Builder) (string, []any) { return b.RaiseRisk(oddTable, oddKey, oddText, oddNumber) },
		"Touch":     func(b Builder) (string, []any) { return b.Touch(oddTable), nil },
		"WriteSeals": func(b Builder) (string, []any) {
			return b.WriteSeals(oddTable, oddKey, []Seal{{Key: oddText, Hash: oddText + "h", IPHash: oddText + "i"}}, true, oddText+"k", oddNumber)
		},
		"WriteSeals/noIP": func(b Builder) (string, []any) {
			return b.WriteSeals(oddTable, oddKey, []Seal{{Key: oddText, Hash: oddText + "h"}, {Key: int64(oddNumber), Hash: "h"}}, false, "k", 2)
		},
	}
}

var dollar = regexp.MustCompile(`\$([0-9]+)`)

// TestEveryStatement checks every statement on every dialect: identifiers quoted, as many placeholders
// as arguments (PostgreSQL's numbered in text order), no value in the text.
func TestEveryStatement(t *testing.T) {
	for _, d := range dialects {
		for name, build := range builders(d) {
			t.Run(d.Name()+"/"+name, func(t *testing.T) {
				q, args := build(For(d))
				// Identifiers: the odd table is always there, quoted; no name appears unquoted.
				if !strings.Contains(q, d.Quote(oddTable)) {
					t.Errorf("table not quoted: %s", q)
				}
				text := q
				for _, n := range []string{oddTable + "_archive", oddTable, oddKey, oddCol} {
					text = strings.ReplaceAll(text, d.Quote(n), "ID")
				}
				for _, n := range []string{"se`ss", `ss"ion`, "tab?le", "k`e", "da'ta", "ta ?"} {
					if strings.Contains(text, n) {
						t.Errorf("part %q of a name outside its quotes: %s", n, q)
					}
				}
				// Values: none in the text, each in the arguments.
				for _, v := range []string{oddText, oddJSON, "it's", strconv.Itoa(oddNumber)} {
					if strings.Contains(q, v) {
						t.Errorf("value %q in the SQL text: %s", v, q)
					}
				}
				// Placeholders: as many as arguments; PostgreSQL's are $1..$n in text order.
				if d.Name() == "postgres" {
					m := dollar.FindAllStringSubmatch(text, -1)
					if len(m) != len(args) {
						t.Fatalf("%d placeholders, %d arguments: %s", len(m), len(args), q)
					}
					for i, p := range m {
						if p[1] != strconv.Itoa(i+1) {
							t.Fatalf("placeholder %d is $%s: %s", i+1, p[1], q)
						}
					}
				} else if n := strings.Count(text, "?"); n != len(args) {
					t.Fatalf("%d placeholders, %d arguments: %s", n, len(args), q)
				}
				// Locked reads lock where the dialect can (SQLite's write transaction locks the database).
				locked := strings.HasSuffix(name, "locked") || name == "NextKeys" || name == "RowByKey"
				switch lock := dialect.LockRows(d); {
				case locked && lock != "" && !strings.HasSuffix(q, lock):
					t.Errorf("no %q: %s", lock, q)
				case (!locked || lock == "") && strings.Contains(q, "FOR UPDATE"):
					t.Errorf("a lock it should not take: %s", q)
				}
			})
		}
	}
}

// TestValuesBound checks that each value a statement is given goes to its arguments unchanged.
func TestValuesBound(t *testing.T) {
	b := For(postgres.Dialect{})
	_, args := b.AuditSessionRow("log", "sess'1", "SESSION_TAMPERED", oddJSON, 100)
	if want := []any{"sess'1", "SESSION_TAMPERED", oddJSON, 100}; !reflect.DeepEqual(args, want) {
		t.Errorf("AuditSessionRow args %#v, want %#v", args, want)
	}
	_, args = b.SessionStats("s", 50, Validated(Raw("x")), Raw("y"))
	if want := []any{50}; !reflect.DeepEqual(args, want) {
		t.Errorf("SessionStats args %#v, want %#v", args, want)
	}
	_, args = b.KeyInUse("s", "k'1", 2)
	if want := []any{"k'1", 2}; !reflect.DeepEqual(args, want) {
		t.Errorf("KeyInUse args %#v, want %#v", args, want)
	}
	_, args = b.RaiseRisk("s", "id", []byte("k"), 100)
	if want := []any{100, []byte("k")}; !reflect.DeepEqual(args, want) {
		t.Errorf("RaiseRisk args %#v, want %#v", args, want)
	}
}

// TestConds pins the conditions' text and parentheses.
func TestConds(t *testing.T) {
	b := For(sqlite.Dialect{})
	for _, c := range []struct {
		cond Cond
		want string
	}{
		{Compare("a", Eq, 1), `"a" = ?`},
		{Compare("a", Ne, 1), `"a" <> ?`},
		{Compare("a", Lt, 1), `"a" < ?`},
		{Compare("a", Gt, 1), `"a" > ?`},
		{CompareExpr("a", Lt, "b + 1"), `"a" < b + 1`},
		{IsNull("a"), `"a" IS NULL`},
		{NotNull("a"), `"a" IS NOT NULL`},
		{Not(Raw("x OR y")), `NOT (x OR y)`},
		{And(Raw("x OR y"), IsNull("a")), `(x OR y) AND "a" IS NULL`},
		{And(Cond{}, IsNull("a"), Cond{}), `"a" IS NULL`},
		{Or(IsNull("a"), And(IsNull("b"), IsNull("c"))), `("a" IS NULL OR ("b" IS NULL AND "c" IS NULL))`},
		{And(Or(IsNull("a"), IsNull("b")), IsNull("c")), `("a" IS NULL OR "b" IS NULL) AND "c" IS NULL`},
		{Validated(Raw("v < 1")), `"last_validated_at" IS NOT NULL AND NOT (v < 1)`},
		{In("a", []any{1, 2}), `"a" IN (?, ?)`},
	} {
		q, _ := b.Count("t", c.cond)
		if want := `SELECT COUNT(*) FROM "t" WHERE ` + c.want; q != want {
			t.Errorf("got  %s\nwant %s", q, want)
		}
	}
	if q, args := b.Count("t", And()); q != `SELECT COUNT(*) FROM "t"` || args != nil {
		t.Errorf("no condition: %s %v", q, args)
	}
	if !And().IsZero() || !Or(Cond{}).IsZero() {
		t.Error("an empty AND or OR is not the zero Cond")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("In over no values did not panic")
			}
		}()
		b.Count("t", In("a", nil))
	}()
}

// TestPureFunctions: the same inputs give the same statement; a condition binds afresh in each
// statement that uses it.
func TestPureFunctions(t *testing.T) {
	b := For(postgres.Dialect{})
	c := Compare("risk_score", Gt, 50)
	q1, a1 := b.NextKeys("s", "id", int64(1), c, 10)
	q2, a2 := b.NextKeys("s", "id", int64(1), c, 10)
	if q1 != q2 || !reflect.DeepEqual(a1, a2) {
		t.Errorf("two builds differ: %s %v / %s %v", q1, a1, q2, a2)
	}
	q3, a3 := b.DeleteKeys("s", "id", []any{1, 2, 3}, c)
	if !strings.HasSuffix(q3, `"risk_score" > $4`) || fmt.Sprint(a3) != "[1 2 3 50]" {
		t.Errorf("the condition did not bind after the keys: %s %v", q3, a3)
	}
}

func TestSealList(t *testing.T) {
	b := For(mysql.Dialect{})
	if got, want := b.SealList("id", "kt", "u", "e", ""), "`id`, kt, u, e, NULL, `security_version`, `encryption_key_id`, `security_hash`, `created_ip_hash`"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := b.SealList("id", "kt", "u", "e", "ip"); !strings.Contains(got, ", e, ip, ") {
		t.Errorf("the IP expression is missing: %s", got)
	}
}
