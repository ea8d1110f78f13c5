package main

// The naive baseline: the original hand-run script's approach, made runnable. Plain ALTERs (the CHECK on the
// risk_score column as the original had it; on MariaDB, which rejects CHECK followed by COMMENT, a separate
// ADD CONSTRAINT), one UPDATE backfilling every row, one plain CREATE INDEX per index (no ALGORITHM /
// CONCURRENTLY; no partial indexes on MySQL), then triggers, tables and procedures created plainly. The hash
// function, triggers, audit/archive tables and procedures are the library's own DDL, read at run time from the
// embedded migrations.FS, so both runs compute the same hash and install the same routines; only the way the
// sessions table is changed differs.

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/agui-go/sessionsec/migrations"
	"github.com/agui-go/sessionsec/schema"
)

type naiveStep struct {
	Name string
	SQL  string
}

// libFile is an up file of the embedded migrations.
type libFile struct{ name, sql string }

func libUpFiles(dialect string) ([]libFile, error) {
	dir, err := migrations.Dir("spec", dialect)
	if err != nil {
		return nil, err
	}
	ents, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, err
	}
	var out []libFile
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		b, err := fs.ReadFile(dir, e.Name())
		if err != nil {
			return nil, err
		}
		if revision(e.Name()) {
			continue
		}
		out = append(out, libFile{e.Name(), string(b)})
	}
	return out, nil // fs.ReadDir sorts by name = by version
}

// revision reports the file of a trigger's later revision (step 22, security version 2): the naive
// script keeps the original script's two triggers; a revision's swap costs milliseconds either way and,
// on MySQL, is four statements the naive connection does not send in one Exec.
func revision(file string) bool {
	for _, st := range schema.Steps {
		if st.Rev() > 1 && strings.HasPrefix(file, fmt.Sprintf("%06d_", st.Version)) {
			return true
		}
	}
	return false
}

var (
	// Names may be quoted (backticks, double quotes) and, inside PostgreSQL's schema-binding blocks,
	// qualified by the @schema@ mark.
	reHashFn   = regexp.MustCompile("(?is)create\\s+(or\\s+replace\\s+)?function\\s+(if\\s+not\\s+exists\\s+)?(@schema@\\.)?[`\"]?session_security_hash\\b")
	reTrigger  = regexp.MustCompile(`(?is)create\s+trigger\b`)
	reAudit    = regexp.MustCompile("(?is)create\\s+table\\s+(if\\s+not\\s+exists\\s+)?[`\"]?session_audit_log\\b")
	reArchive  = regexp.MustCompile("(?is)create\\s+table\\s+(if\\s+not\\s+exists\\s+)?[`\"]?sessions_archive\\b")
	reRoutines = regexp.MustCompile("(?is)create\\s+(or\\s+replace\\s+)?procedure\\s+(if\\s+not\\s+exists\\s+)?(@schema@\\.)?[`\"]?(CleanupExpiredSecureSessions|UpdateSessionRiskScores)\\b")
)

func pickFiles(files []libFile, re *regexp.Regexp, what string, want int) ([]libFile, error) {
	var out []libFile
	for _, f := range files {
		if re.MatchString(f.sql) {
			out = append(out, f)
		}
	}
	if len(out) != want {
		return nil, fmt.Errorf("naive: found %d migration files with %s, want %d", len(out), what, want)
	}
	return out, nil
}

func (s server) hashExpr() string {
	if s.Dialect == "postgres" {
		return "session_security_hash(session_id, user_id, EXTRACT(epoch FROM date_trunc('second', created_at))::bigint)"
	}
	us := "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at)"
	return "session_security_hash(session_id, user_id, " + us + " DIV 1000000 - (" + us + " MOD 1000000 < 0))"
}

// comment is the documented comment of a security column (schema.Expected is the one source).
func comment(column string) string {
	c, _ := schema.Change.Column(column)
	return c.Comment
}

func (s server) naiveSteps() ([]naiveStep, error) {
	files, err := libUpFiles(s.Dialect)
	if err != nil {
		return nil, err
	}
	var steps []naiveStep
	check := "CHECK (risk_score BETWEEN 0 AND 100)"
	if s.Dialect == "postgres" {
		steps = append(steps, naiveStep{"ALTER TABLE add 6 columns (CHECK on risk_score)", `ALTER TABLE sessions
    ADD COLUMN security_hash char(64) NULL,
    ADD COLUMN encryption_key_id varchar(128) NULL,
    ADD COLUMN created_ip_hash char(64) NULL,
    ADD COLUMN security_version integer NOT NULL DEFAULT 1,
    ADD COLUMN last_validated_at timestamptz NULL,
    ADD COLUMN risk_score smallint NOT NULL DEFAULT 0 ` + check})
		var c []string
		for _, col := range schema.Change.Columns {
			c = append(c, fmt.Sprintf("COMMENT ON COLUMN sessions.%s IS '%s'", col.Name, col.Comment))
		}
		steps = append(steps, naiveStep{"COMMENT ON COLUMN x6", strings.Join(c, ";\n")})
	} else {
		riskCheck := " " + check
		if s.Key == "mariadb" {
			riskCheck = "" // MariaDB rejects CHECK followed by COMMENT on a column: separate ADD CONSTRAINT below
		}
		steps = append(steps, naiveStep{"ALTER TABLE add 6 columns" + map[bool]string{true: " (CHECK on risk_score)", false: ""}[riskCheck != ""],
			fmt.Sprintf(`ALTER TABLE sessions
    ADD COLUMN security_hash CHAR(64) CHARACTER SET ascii NULL COMMENT '%s',
    ADD COLUMN encryption_key_id VARCHAR(128) NULL COMMENT '%s',
    ADD COLUMN created_ip_hash CHAR(64) CHARACTER SET ascii NULL COMMENT '%s',
    ADD COLUMN security_version INT NOT NULL DEFAULT 1 COMMENT '%s',
    ADD COLUMN last_validated_at DATETIME(6) NULL COMMENT '%s',
    ADD COLUMN risk_score SMALLINT NOT NULL DEFAULT 0%s COMMENT '%s'`,
				comment("security_hash"), comment("encryption_key_id"), comment("created_ip_hash"),
				comment("security_version"), comment("last_validated_at"), riskCheck, comment("risk_score"))})
		if s.Key == "mariadb" {
			steps = append(steps, naiveStep{"ALTER TABLE ADD CONSTRAINT CHECK risk_score",
				"ALTER TABLE sessions ADD CONSTRAINT sessions_risk_score_range CHECK (risk_score BETWEEN 0 AND 100)"})
		}
	}
	fn, err := pickFiles(files, reHashFn, "the hash function", 1)
	if err != nil {
		return nil, err
	}
	steps = append(steps, naiveStep{"create hash function (" + fn[0].name + ")", fn[0].sql})
	now := "CURRENT_TIMESTAMP(6)"
	if s.Dialect == "postgres" {
		now = "now()"
	}
	steps = append(steps, naiveStep{"backfill: one UPDATE of all rows", fmt.Sprintf(`UPDATE sessions
   SET security_hash = %s,
       encryption_key_id = COALESCE(encryption_key_id, 'migration-default-key'),
       last_validated_at = COALESCE(last_validated_at, %s)
 WHERE security_hash IS NULL`, s.hashExpr(), now)})
	names := schema.NamesFor("sessions")
	for _, ix := range schema.Change.Indexes { // plain CREATE INDEX, one per statement, as the original
		q := fmt.Sprintf("CREATE INDEX %s ON sessions (%s)", names.Index(ix), strings.Join(ix.Columns, ", "))
		if s.Dialect == "postgres" && ix.Partial != nil {
			q += " WHERE " + ix.Partial.String()
		}
		steps = append(steps, naiveStep{"CREATE INDEX " + names.Index(ix), q})
	}
	for _, g := range []struct {
		re   *regexp.Regexp
		what string
		n    int
	}{{reTrigger, "CREATE TRIGGER", 2}, {reAudit, "the audit log", 1}, {reArchive, "the archive", 1}, {reRoutines, "the maintenance procedures", 2}} {
		fs, err := pickFiles(files, g.re, g.what, g.n)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			steps = append(steps, naiveStep{"library DDL " + f.name, f.sql})
		}
	}
	return steps, nil
}

// triggerFiles returns the library's trigger DDL (to re-create the triggers in the trigger-overhead test).
func (s server) triggerFiles() ([]libFile, error) {
	files, err := libUpFiles(s.Dialect)
	if err != nil {
		return nil, err
	}
	return pickFiles(files, reTrigger, "CREATE TRIGGER", 2)
}

func (s server) dropTriggerSQL() []string {
	if s.Dialect == "postgres" {
		return []string{
			"DROP TRIGGER IF EXISTS sessions_security_hash_trigger ON sessions",
			"DROP TRIGGER IF EXISTS sessions_validation_timestamp_trigger ON sessions",
		}
	}
	return []string{
		"DROP TRIGGER IF EXISTS sessions_security_hash_trigger",
		"DROP TRIGGER IF EXISTS sessions_validation_timestamp_trigger",
	}
}
