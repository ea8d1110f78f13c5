package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// HashPrefix tags the canonical hash input with its format version.
const HashPrefix = "sessionsec/v1"

// SecurityHash computes the canonical security_hash of a session: the lower-case hex SHA-256 of
//
//	"sessionsec/v1" | F(key) | F(user) | E(created)
//
// joined by "|", where F(NULL) = "-", F(s) = <UTF-8 byte length of s> ":" s, E(NULL) = "-" and
// E(t) = whole seconds since the Unix epoch, rounded down (toward negative infinity). The length
// prefixes keep the encoding unambiguous and NULL distinct from ""; epoch seconds keep it independent
// of every time zone. A binary key or user (MySQL BINARY/VARBINARY, PostgreSQL bytea) enters as the
// lower-case hex of its bytes (KeyText). The insert trigger, the backfill and this function compute the
// same value, so one verifier checks them all.
func SecurityHash(key, user *string, createdEpoch *int64) string {
	var b strings.Builder
	b.WriteString(HashPrefix)
	for _, s := range []*string{key, user} {
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
	return sha256Hex(b.String())
}

// KeyText is how a binary key or user value enters the hash: the lower-case hex of its bytes.
func KeyText(b []byte) string { return hex.EncodeToString(b) }

// EpochOf returns the whole seconds since the Unix epoch (rounded down) of t's wall clock read as UTC
// when wallClockUTC is true (MySQL DATETIME, PostgreSQL timestamp without time zone, SQLite text
// without an offset), or of the instant t otherwise (MySQL TIMESTAMP, PostgreSQL timestamptz).
func EpochOf(t time.Time, wallClockUTC bool) int64 {
	if wallClockUTC {
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	return t.Unix() // Unix rounds toward negative infinity for whole seconds
}

// CanonicalIP is the text form of a client IP that created_ip_hash is computed over: a valid IPv4 address
// in dotted decimal; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address; any other IPv6
// address in RFC 5952 form (lower case, the longest run of two or more zero groups as "::", the first
// when tied), except that an address whose first six groups are zero and seventh is not is written
// "::a.b.c.d", as MySQL's INET6_NTOA and PostgreSQL's inet output both do. Surrounding spaces are
// ignored; a netmask (PostgreSQL inet) is not part of the address. ok is false for anything that is not
// an address (and for zoned addresses, which no server stores): such a value gets no hash.
func CanonicalIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if a, err = parseIPv4LeadingZeros(s); err != nil {
			return "", false
		}
	}
	if a.Zone() != "" {
		return "", false
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String(), true
	}
	b := a.As16()
	compat := true
	for _, x := range b[:12] {
		compat = compat && x == 0
	}
	if compat && (b[12] != 0 || b[13] != 0) {
		return "::" + netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).String(), true
	}
	return a.String(), true
}

// parseIPv4LeadingZeros reads a dotted quad whose octets carry leading zeros ("010.001.002.003"), which
// the servers read as decimal and netip refuses.
func parseIPv4LeadingZeros(s string) (netip.Addr, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, errNotIP
	}
	var b [4]byte
	for i, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return netip.Addr{}, errNotIP
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > 255 || strings.TrimLeft(p, "0123456789") != "" {
			return netip.Addr{}, errNotIP
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), nil
}

var errNotIP = errors.New("not an IP address")

// IPHash is created_ip_hash for a client IP: the lower-case hex SHA-256 of CanonicalIP(ip), unkeyed.
// ok is false when ip is not an address. An unkeyed hash of an IP hides it from a casual reader only:
// the IPv4 space can be enumerated in minutes. Applications that need more store their own keyed value
// (HMAC) in created_ip_hash; the insert trigger keeps a value it is given.
func IPHash(ip string) (string, bool) {
	c, ok := CanonicalIP(ip)
	if !ok {
		return "", false
	}
	return sha256Hex(c), true
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
