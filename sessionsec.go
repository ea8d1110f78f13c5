// Package sessionsec applies and verifies the AG-UI session-security schema change on MySQL 8.0.29+,
// MariaDB 10.6+, PostgreSQL 12+ and SQLite, built on golang-migrate.
//
// A server calls Migrate at start-up and Validate to prove the result:
//
//	if err := sessionsec.Migrate(ctx, db); err != nil { ... }
//	if _, err := sessionsec.Validate(ctx, db); err != nil { ... }
//
// The SQL itself lives in the migrations package (one folder per dialect), usable with the stock
// golang-migrate CLI too. The expected schema is declared once, in the schema package.
package sessionsec

import (
	"time"

	"github.com/agui-go/sessionsec/schema"
)

// SecurityHash computes the canonical security_hash that the insert trigger and the backfill store, so an
// application can recompute and verify it. userID and createdAt are nil for NULL. createdAt is read the
// way the server stores it: wallClockUTC is true for MySQL/MariaDB DATETIME and PostgreSQL timestamp
// without time zone (the wall clock is taken as UTC), false for PostgreSQL timestamptz (an instant).
// See schema.SecurityHash for the exact input format.
func SecurityHash(sessionID string, userID *string, createdAt *time.Time, wallClockUTC bool) string {
	var epoch *int64
	if createdAt != nil {
		e := schema.EpochOf(*createdAt, wallClockUTC)
		epoch = &e
	}
	return schema.SecurityHash(&sessionID, userID, epoch)
}
