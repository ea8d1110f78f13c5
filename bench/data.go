package main

// The sessions table and its N rows. Rows are generated on the server from their number i (1..N) and the seed,
// so the naive run and the library run get identical data, and the writers can compute existing session ids.
//
// Mix (by i): 10% expired (i%10==0), 10% never expire (expires_at NULL, i%10==5), 80% active;
// 20% anonymous (user_id NULL, i%10 in 3,7); 20% never accessed (last_accessed_at NULL, i%5==1);
// created 1 to 30 days ago. session_id = first 40 hex chars of SHA-256("<seed>:<i>") (random key order).

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

const buildBatch = 100000

func sessionID(seed string, i int) string {
	h := sha256.Sum256([]byte(seed + ":" + strconv.Itoa(i)))
	return hex.EncodeToString(h[:])[:40]
}

var reCreateSessions = regexp.MustCompile("CREATE TABLE IF NOT EXISTS [`\"]?sessions[`\"]? ")

// createTableSQL is the library's own first step, the base sessions table: both runs start from the table
// an application would have, and its definition lives in one place.
func (s server) createTableSQL() (string, error) {
	files, err := libUpFiles(s.Dialect)
	if err != nil {
		return "", err
	}
	if len(files) == 0 || !reCreateSessions.MatchString(files[0].sql) {
		return "", fmt.Errorf("migrations/%s: the first step does not create the sessions table", s.Dialect)
	}
	return files[0].sql, nil
}

// buildTable creates sessions with n rows and refreshes statistics. It returns the time taken.
func (s server) buildTable(ctx context.Context, db *sql.DB, n int, seed string) (time.Duration, error) {
	start := time.Now()
	ddl, err := s.createTableSQL()
	if err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return 0, fmt.Errorf("create sessions: %w", err)
	}
	seedLit := sanitizeIdent(seed)
	if s.Dialect == "mysql" {
		digits := "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
		for _, q := range []string{
			"CREATE TABLE bench_seq (n INT NOT NULL PRIMARY KEY) ENGINE=InnoDB",
			"INSERT INTO bench_seq SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d FROM " +
				digits + " a, " + digits + " b, " + digits + " c, " + digits + " e, " + digits + " f",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return 0, fmt.Errorf("build helper: %w", err)
			}
		}
	}
	for off := 0; off < n; off += buildBatch {
		cnt := min(buildBatch, n-off)
		var q string
		if s.Dialect == "mysql" {
			q = fmt.Sprintf(`INSERT INTO sessions (session_id, user_id, created_at, expires_at, last_accessed_at)
SELECT LEFT(SHA2(CONCAT('%[1]s:', i), 256), 40),
       CASE WHEN i %% 10 IN (3, 7) THEN NULL ELSE CONCAT('user-', i %% 100000) END,
       t0 - INTERVAL age SECOND,
       CASE WHEN i %% 10 = 0 THEN t0 - INTERVAL age SECOND + INTERVAL 3600 SECOND
            WHEN i %% 10 = 5 THEN NULL
            ELSE t0 + INTERVAL (3600 + i %% 604800) SECOND END,
       CASE WHEN i %% 5 = 1 THEN NULL ELSE t0 - INTERVAL age SECOND + INTERVAL ((i * 31) %% age) SECOND END
FROM (SELECT i, 86400 + (i * 7919) %% 2505600 AS age, NOW(6) AS t0
      FROM (SELECT CAST(%[2]d AS SIGNED) + n + 1 AS i FROM bench_seq WHERE n < %[3]d) x) s`, seedLit, off, cnt)
		} else {
			q = fmt.Sprintf(`INSERT INTO sessions (session_id, user_id, created_at, expires_at, last_accessed_at)
SELECT left(encode(sha256(convert_to('%[1]s:' || i, 'UTF8')), 'hex'), 40),
       CASE WHEN i %% 10 IN (3, 7) THEN NULL ELSE 'user-' || (i %% 100000) END,
       now() - age * interval '1 second',
       CASE WHEN i %% 10 = 0 THEN now() - age * interval '1 second' + interval '3600 seconds'
            WHEN i %% 10 = 5 THEN NULL
            ELSE now() + (3600 + i %% 604800) * interval '1 second' END,
       CASE WHEN i %% 5 = 1 THEN NULL ELSE now() - age * interval '1 second' + ((i * 31) %% age) * interval '1 second' END
FROM (SELECT i, 86400 + (i * 7919) %% 2505600 AS age
      FROM generate_series(%[2]d::bigint + 1, %[2]d::bigint + %[3]d) AS i) s`, seedLit, off, cnt)
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("insert rows %d..%d: %w", off+1, off+cnt, err)
		}
	}
	var after []string
	if s.Dialect == "mysql" {
		after = []string{"DROP TABLE bench_seq", "ANALYZE TABLE sessions"}
	} else {
		after = []string{"VACUUM (ANALYZE) sessions"}
	}
	for _, q := range after {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("%s: %w", q, err)
		}
	}
	var got int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&got); err != nil {
		return 0, err
	}
	if got != n {
		return 0, fmt.Errorf("built %d rows, want %d", got, n)
	}
	return time.Since(start), nil
}

// tableIdentity names the physical table behind sessions: it changes when the table is copied or rewritten.
// PostgreSQL: pg_class.relfilenode. MySQL: INNODB_TABLES TABLE_ID/SPACE. MariaDB: INNODB_SYS_TABLES TABLE_ID/SPACE.
func (s server) tableIdentity(ctx context.Context, db *sql.DB) (string, error) {
	var q string
	switch s.Key {
	case "postgres":
		q = "SELECT relfilenode::text FROM pg_class WHERE oid = 'sessions'::regclass"
	case "mysql":
		q = "SELECT CONCAT(TABLE_ID, '/', SPACE) FROM information_schema.INNODB_TABLES WHERE NAME = CONCAT(DATABASE(), '/sessions')"
	default:
		q = "SELECT CONCAT(TABLE_ID, '/', SPACE) FROM information_schema.INNODB_SYS_TABLES WHERE NAME = CONCAT(DATABASE(), '/sessions')"
	}
	var id string
	err := db.QueryRowContext(ctx, q).Scan(&id)
	return id, err
}

func (s server) countNullHash(ctx context.Context, db *sql.DB) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE security_hash IS NULL").Scan(&n)
	return n, err
}
