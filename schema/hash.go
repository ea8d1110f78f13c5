package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// HashPrefix tags the canonical hash input with its format version.
const HashPrefix = "sessionsec/v1"

// SecurityHash computes the canonical security_hash of a session: the lower-case hex SHA-256 of
//
//	"sessionsec/v1" | F(session_id) | F(user_id) | E(created_at)
//
// joined by "|", where F(NULL) = "-", F(s) = <UTF-8 byte length of s> ":" s, E(NULL) = "-" and
// E(t) = whole seconds since the Unix epoch, rounded down. The length prefixes keep the encoding
// unambiguous and NULL distinct from ""; epoch seconds keep it independent of any time zone. The insert
// trigger, the backfill and this function compute the same value, so one verifier checks them all.
//
// createdEpoch is nil for a NULL created_at. On MySQL/MariaDB a DATETIME is read as a UTC wall clock;
// use EpochOf to turn a time.Time read from the database into the argument.
func SecurityHash(sessionID, userID *string, createdEpoch *int64) string {
	var b strings.Builder
	b.WriteString(HashPrefix)
	for _, s := range []*string{sessionID, userID} {
		b.WriteByte('|')
		if s == nil {
			b.WriteByte('-')
			continue
		}
		b.WriteString(strconv.Itoa(len(*s)))
		b.WriteByte(':')
		b.WriteString(*s)
	}
	b.WriteByte('|')
	if createdEpoch == nil {
		b.WriteByte('-')
	} else {
		b.WriteString(strconv.FormatInt(*createdEpoch, 10))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// EpochOf returns the whole seconds since the Unix epoch (rounded down) of t's wall clock read as UTC
// when wallClockUTC is true (MySQL DATETIME, PostgreSQL timestamp without time zone), or of the instant t
// otherwise (PostgreSQL timestamptz).
func EpochOf(t time.Time, wallClockUTC bool) int64 {
	if wallClockUTC {
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	return t.Unix() // Unix rounds toward negative infinity for whole seconds
}
