// Package sessionsec applies and verifies the AG-UI session-security schema change on MySQL 8.0.29+,
// MariaDB 10.6+, PostgreSQL 12+ and SQLite 3.35+, built on golang-migrate.
//
// The core links no SQL driver: import the dialect of your database next to it, and it registers itself.
//
//	import (
//		"github.com/agui-go/sessionsec"
//		_ "github.com/agui-go/sessionsec/mysql" // or postgres, sqlite
//	)
//
// A server calls Migrate at start-up and Validate to prove the result:
//
//	if err := sessionsec.Migrate(ctx, db); err != nil { ... }
//	if _, err := sessionsec.Validate(ctx, db); err != nil { ... }
//
// Session integrity (security version 2): a Keyring (LoadKeyringFromEnv reads HMAC_KEY) seals each
// session with HMAC-SHA-256 over its immutable fields; RunSealer or SealSession seal, VerifySession
// checks one session on the request path, Seal and Verify walk the table (rotation included).
//
// The session table's layout is recognised from its columns: the seed runbook's (session_id,
// last_accessed_at, ...) or the AG-UI Go SDK store's (id, last_accessed, ip_address, is_active, ...).
// WithTable and WithLayout name another table or map other columns. The change itself is declared once
// in the schema package; every dialect renders its SQL from that declaration, and the committed
// migrations folders (for the stock golang-migrate CLI) are that rendering.
package sessionsec

import (
	"time"

	"github.com/agui-go/sessionsec/schema"
)

// SecurityHash computes the canonical security_hash that the insert trigger and the backfill store, so an
// application can recompute and verify it. key is the session key (for a binary key, schema.KeyText of
// its bytes); user and createdAt are nil for NULL. createdAt is read the way the server stores it:
// wallClockUTC is true for MySQL DATETIME, PostgreSQL timestamp without time zone and SQLite text
// without an offset (the wall clock is taken as UTC), false for MySQL TIMESTAMP and PostgreSQL
// timestamptz (an instant). See schema.SecurityHash for the exact input format.
func SecurityHash(key string, user *string, createdAt *time.Time, wallClockUTC bool) string {
	var epoch *int64
	if createdAt != nil {
		e := schema.EpochOf(*createdAt, wallClockUTC)
		epoch = &e
	}
	return schema.SecurityHash(&key, user, epoch)
}

// IPHash computes created_ip_hash for a client IP as the insert trigger and the backfill do: the
// SHA-256 of its canonical text (schema.CanonicalIP). ok is false when ip is not an address.
func IPHash(ip string) (hash string, ok bool) { return schema.IPHash(ip) }
