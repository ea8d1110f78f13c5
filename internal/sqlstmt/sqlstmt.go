// Package sqlstmt is the one home of the SQL the core writes itself rather than a dialect: the
// maintenance tasks' batches and audit rows, the metrics, the seal's reads and writes. Each statement is
// a pure function of a dialect's spelling, the names of the tables and columns, and the values, and
// returns the query with its arguments in the order of its placeholders. Every value is bound (actions,
// JSON details, keys, thresholds, versions); every identifier goes through the dialect's Quote. The only
// other text is SQL a dialect rendered itself (Raw, and the expressions some functions take): its
// maintenance rules, time predicates and seal expressions, whose literals are instants the core
// computed, never row data. A LIMIT is an integer the package validated, written as a literal.
package sqlstmt

import (
	"strconv"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// The change's own columns (schema.Change): a layout maps the session table's base columns, never
// these, so their names are fixed.
const (
	colHash      = "security_hash"
	colIPHash    = "created_ip_hash"
	colKeyID     = "encryption_key_id"
	colVersion   = "security_version"
	colValidated = "last_validated_at"

	auditSession = "session_id"
	auditAction  = "action"
	auditDetails = "details"
	auditRisk    = "risk_score"
)

// colRisk is the session table's and the audit log's risk column.
var colRisk = schema.Change.Risk.Column

// Builder writes statements in one dialect's words.
type Builder struct {
	sp   dialect.Spelling
	lock string // the RowLocker's clause, "" for a dialect without one
}

// For is d's builder; its locked reads use d's RowLocker where d has one (dialect.LockRows).
func For(d dialect.Dialect) Builder { return Builder{sp: d, lock: dialect.LockRows(d)} }

func (s Builder) binder() *binder { return &binder{sp: s.sp} }

// countIf is an aggregate counting the rows where c holds: 0, not NULL, over no rows.
func countIf(b *binder, c Cond) string {
	return "COALESCE(SUM(CASE WHEN " + c.write(b) + " THEN 1 ELSE 0 END), 0)"
}

// Page is one page of a keyset walk over a table: the rows after the last key of the previous page,
// in key order.
type Page struct {
	Table string
	Key   string // the walked column: the order, and what After compares with
	// List is the select list as the dialect renders it (the seal's expressions); "" selects Key.
	List  string
	After any  // the previous page's last key; nil for the first page
	Where Cond // which rows; the zero Cond for all
	Limit int  // rows per page
	// Lock locks the rows read until the transaction ends (the RowLocker's clause; nothing where the
	// dialect has none, whose write transaction locks the whole database).
	Lock bool
}

// Page is "SELECT <list> FROM table WHERE key > ? AND (where) ORDER BY key LIMIT n [FOR UPDATE]".
// Arguments: After (when set), then Where's.
func (s Builder) Page(p Page) (string, []any) {
	b := s.binder()
	list := p.List
	if list == "" {
		list = b.q(p.Key)
	}
	var after Cond
	if p.After != nil {
		after = Compare(p.Key, Gt, p.After)
	}
	query := "SELECT " + list + " FROM " + b.q(p.Table) + b.where(And(after, p.Where)) +
		" ORDER BY " + b.q(p.Key) + " LIMIT " + strconv.Itoa(p.Limit)
	if p.Lock {
		query += s.lock
	}
	return query, b.args
}

// NextKeys selects and locks the keys of a maintenance batch: the first limit keys after after (nil
// for the first batch) whose rows match where, in key order. Arguments: after, then where's.
func (s Builder) NextKeys(table, key string, after any, where Cond, limit int) (string, []any) {
	return s.Page(Page{Table: table, Key: key, After: after, Where: where, Limit: limit, Lock: true})
}

// DeleteKeys is "DELETE FROM table WHERE key IN (keys...) AND where": where re-checks the task's rule,
// so a row changed since the batch selected it stays. Arguments: keys, then where's.
func (s Builder) DeleteKeys(table, key string, keys []any, where Cond) (string, []any) {
	b := s.binder()
	return "DELETE FROM " + b.q(table) + b.where(And(In(key, keys), where)), b.args
}

// SetKeys is "UPDATE table SET col = expr WHERE key IN (keys...) AND where", expr an expression the
// dialect rendered (the risk score). Arguments: keys, then where's.
func (s Builder) SetKeys(table, col, expr, key string, keys []any, where Cond) (string, []any) {
	b := s.binder()
	return "UPDATE " + b.q(table) + " SET " + b.q(col) + " = " + expr + b.where(And(In(key, keys), where)), b.args
}

// CopyKeys copies the rows of keys that match where from one table to another with the same columns:
// "INSERT INTO into (cols) SELECT cols FROM from WHERE key IN (keys...) AND where". Arguments: keys,
// then where's.
func (s Builder) CopyKeys(into, from string, cols []string, key string, keys []any, where Cond) (string, []any) {
	b := s.binder()
	list := b.quoted(cols)
	return "INSERT INTO " + b.q(into) + " (" + list + ") SELECT " + list + " FROM " + b.q(from) +
		b.where(And(In(key, keys), where)), b.args
}

// HeldKeys selects those of keys that table has (the archive's keys of a batch). Arguments: keys.
func (s Builder) HeldKeys(table, key string, keys []any) (string, []any) {
	b := s.binder()
	return "SELECT " + b.q(key) + " FROM " + b.q(table) + b.where(In(key, keys)), b.args
}

// AuditRow writes an audit-log row of a task: "INSERT INTO table (action, details) VALUES (?, ?)".
// Arguments: action, details (a JSON object's text).
func (s Builder) AuditRow(table, action, details string) (string, []any) {
	return s.insert(table, []string{auditAction, auditDetails}, []any{action, details})
}

// AuditSessionRow writes an audit-log row about one session, with the risk score it was given.
// Arguments: session, action, details, risk.
func (s Builder) AuditSessionRow(table, session, action, details string, risk int) (string, []any) {
	return s.insert(table, []string{auditSession, auditAction, auditDetails, auditRisk}, []any{session, action, details, risk})
}

func (s Builder) insert(table string, cols []string, vals []any) (string, []any) {
	b := s.binder()
	return "INSERT INTO " + b.q(table) + " (" + b.quoted(cols) + ") VALUES (" + b.list(vals) + ")", b.args
}

// SessionStats reads the session table's figures in one scan. Columns: rows, hashed rows, average
// risk score, rows with a risk score above highRisk, validated rows (validated holds), expired rows
// (expired holds). Arguments: highRisk, then validated's, then expired's.
func (s Builder) SessionStats(table string, highRisk int, validated, expired Cond) (string, []any) {
	b := s.binder()
	query := "SELECT COUNT(*), COUNT(" + b.q(colHash) + "), AVG(" + b.q(colRisk) + "), "
	query += countIf(b, Compare(colRisk, Gt, highRisk)) + ", "
	query += countIf(b, validated) + ", "
	query += countIf(b, expired) + " FROM " + b.q(table)
	return query, b.args
}

// Validated is the condition of a session validated since a window opened: last_validated_at is set
// and before, the dialect's Before over ValidatedColumn at the window's start, does not hold.
func Validated(before Cond) Cond { return And(NotNull(colValidated), Not(before)) }

// ValidatedColumn is the column Validated reads, for the dialect's Before.
const ValidatedColumn = colValidated

// Count is "SELECT COUNT(*) FROM table WHERE where". Arguments: where's.
func (s Builder) Count(table string, where Cond) (string, []any) {
	b := s.binder()
	return "SELECT COUNT(*) FROM " + b.q(table) + b.where(where), b.args
}

// AuditStats reads the audit log's rows and those where recent holds. Columns: rows, recent rows.
// Arguments: recent's.
func (s Builder) AuditStats(table string, recent Cond) (string, []any) {
	b := s.binder()
	return "SELECT COUNT(*), " + countIf(b, recent) + " FROM " + b.q(table), b.args
}

// AuditCount counts the audit rows of action where when holds. Arguments: action, then when's.
func (s Builder) AuditCount(table, action string, when Cond) (string, []any) {
	return s.Count(table, And(Compare(auditAction, Eq, action), when))
}

// AuditDetails selects the details of the audit rows of action where when holds. Columns: details.
// Arguments: action, then when's.
func (s Builder) AuditDetails(table, action string, when Cond) (string, []any) {
	b := s.binder()
	return "SELECT " + b.q(auditDetails) + " FROM " + b.q(table) + b.where(And(Compare(auditAction, Eq, action), when)), b.args
}

// SealedByKey counts the rows sealed at version, per key id. Columns: key id, rows. Arguments: version.
func (s Builder) SealedByKey(table string, version int) (string, []any) {
	b := s.binder()
	return "SELECT " + b.q(colKeyID) + ", COUNT(*) FROM " + b.q(table) + b.where(Compare(colVersion, Eq, version)) +
		" GROUP BY " + b.q(colKeyID), b.args
}

// OldestUnsealed reads the least of epoch (the dialect's expression of a row's creation time in Unix
// seconds) over the rows sealed below version. Columns: the least epoch, NULL over no rows.
// Arguments: version.
func (s Builder) OldestUnsealed(table, epoch string, version int) (string, []any) {
	b := s.binder()
	return "SELECT MIN(" + epoch + ") FROM " + b.q(table) + b.where(Compare(colVersion, Lt, version)), b.args
}

// KeyInUse counts the rows sealed at version with key id keyID. Arguments: keyID, version.
func (s Builder) KeyInUse(table, keyID string, version int) (string, []any) {
	return s.Count(table, And(Compare(colKeyID, Eq, keyID), Compare(colVersion, Eq, version)))
}

// NewRows is the condition of a row no seal has touched: security_version 1, the column's default.
// Equality rather than a range, so that MySQL walks the security_version index in key order.
func NewRows() Cond { return Compare(colVersion, Eq, 1) }

// NotSealedWith is the condition of a row the seal has work on: sealed below version (or never), or
// at version with another key than keyID.
func NotSealedWith(version int, keyID string) Cond {
	return Or(Compare(colVersion, Lt, version), IsNull(colVersion),
		And(Compare(colVersion, Eq, version), Or(IsNull(colKeyID), Compare(colKeyID, Ne, keyID))))
}

// SealList is the select list of the seal's reads: the key column, then the dialect's expressions of
// the key's text, the user, the creation time in Unix seconds and the client IP ("" where the layout has
// none: NULL), then security_version, encryption_key_id, security_hash and created_ip_hash.
func (s Builder) SealList(key, keyText, user, epoch, ip string) string {
	if ip == "" {
		ip = "NULL"
	}
	q := s.sp.Quote
	return strings.Join([]string{q(key), keyText, user, epoch, ip, q(colVersion), q(colKeyID), q(colHash), q(colIPHash)}, ", ")
}

// RowByKey reads one row by key: "SELECT <list> FROM table WHERE key = ? [FOR UPDATE]". Arguments: id.
func (s Builder) RowByKey(table, list, key string, id any, lock bool) (string, []any) {
	b := s.binder()
	query := "SELECT " + list + " FROM " + b.q(table) + b.where(Compare(key, Eq, id))
	if lock {
		query += s.lock
	}
	return query, b.args
}

// MarkValidated sets one row's last_validated_at to now, the dialect's expression of the current time.
// Arguments: id.
func (s Builder) MarkValidated(table, key string, id any, now string) (string, []any) {
	b := s.binder()
	return "UPDATE " + b.q(table) + " SET " + b.q(colValidated) + " = " + now + b.where(Compare(key, Eq, id)), b.args
}

// RaiseRisk sets one row's risk score. Arguments: score, id.
func (s Builder) RaiseRisk(table, key string, id any, score int) (string, []any) {
	b := s.binder()
	set := b.q(colRisk) + " = " + b.bind(score)
	return "UPDATE " + b.q(table) + " SET " + set + b.where(Compare(key, Eq, id)), b.args
}

// Touch is an UPDATE of no row: on a server whose write transaction locks the whole database, it takes
// that lock at the start of a transaction. No arguments.
func (s Builder) Touch(table string) string {
	sv := s.sp.Quote(colVersion)
	return "UPDATE " + s.sp.Quote(table) + " SET " + sv + " = " + sv + " WHERE 1 = 0"
}

// Seal is one row's new seal, for WriteSeals.
type Seal struct {
	Key    any // the row's key as read
	Hash   any
	IPHash any // written only WithIP
}

// WriteSeals writes the seals of rows in one UPDATE: security_hash (and created_ip_hash when withIP)
// by a CASE over the key, encryption_key_id and security_version for all of them. Arguments, in order:
// each row's key and hash, then (withIP) each row's key and IP hash, keyID, version, each row's key.
func (s Builder) WriteSeals(table, key string, rows []Seal, withIP bool, keyID string, version int) (string, []any) {
	b := s.binder()
	k := b.q(key)
	kase := func(col string, val func(Seal) any) string {
		var out strings.Builder
		out.WriteString(b.q(col) + " = CASE " + k)
		for _, r := range rows {
			out.WriteString(" WHEN " + b.bind(r.Key) + " THEN " + b.bind(val(r)))
		}
		return out.String() + " END"
	}
	set := kase(colHash, func(r Seal) any { return r.Hash })
	if withIP {
		set += ", " + kase(colIPHash, func(r Seal) any { return r.IPHash })
	}
	set += ", " + b.q(colKeyID) + " = " + b.bind(keyID)
	set += ", " + b.q(colVersion) + " = " + b.bind(version)
	keys := make([]any, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	return "UPDATE " + b.q(table) + " SET " + set + b.where(In(key, keys)), b.args
}
