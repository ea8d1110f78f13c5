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
// Every operation is a method of Provider (New(db, opts...) resolves the dialect and checks the options
// once); a package-level function of the same name, such as Migrate and Validate above, is that method
// on db for a one-off call, with the same parameters after db and the same results.
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
// timestamptz (an instant); a PostgreSQL date is its midnight as a wall clock. A MySQL/MariaDB zero date
// ('0000-00-00 00:00:00') names no instant and hashes like NULL on every path: pass nil (go-sql-driver
// with parseTime reads it as the zero time.Time, which is year 1, not NULL). See schema.SecurityHash for
// the exact input format.
func SecurityHash(key string, user *string, createdAt *time.Time, wallClockUTC bool) string {
	var epoch *int64
	if createdAt != nil {
		e := schema.EpochOf(*createdAt, wallClockUTC)
		epoch = &e
	}
	return schema.SecurityHash(&key, user, epoch)
}

// IPHash computes created_ip_hash for a client IP as the insert trigger and the backfill do on every
// server: the SHA-256 of its canonical text (schema.CanonicalIP). The rules, the same on every path:
// surrounding ASCII spaces ignored (tabs and newlines are not); everything from a "/" on ignored
// ("10.0.0.1/32" is 10.0.0.1, "10/8" is no address); IPv4 as four decimal octets of 1-3 digits, leading
// zeros read as decimal ("010.0.0.1" is 10.0.0.1); an IPv4-mapped IPv6 address as its IPv4 address;
// "::a.b.c.d" for an IPv4-compatible one; any other IPv6 address in RFC 5952 form (a lone zero group is
// "0", never "::"); an embedded IPv4 tail with leading zeros, a zone ("fe80::1%eth0") or anything else
// is no address. ok is false when ip is not an address (the row's created_ip_hash stays NULL).
func IPHash(ip string) (hash string, ok bool) { return schema.IPHash(ip) }
