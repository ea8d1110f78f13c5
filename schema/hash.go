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

// CanonicalIP is the text form of a client IP that created_ip_hash is computed over. Every path computes
// it the same way - this function (IPHash, the SQLite triggers), the MySQL/MariaDB triggers and backfill,
// and PostgreSQL's sessionsec_ip_hash - over a text column by these rules, applied in this order:
//
//   - Surrounding ASCII spaces are ignored (what SQL's TRIM removes); other white space (tab, newline)
//     leaves a value that is no address.
//   - A "/" and everything after it (a netmask or prefix length, "10.0.0.1/32") is ignored, whatever
//     follows it; the text before it must be an address by itself ("10/8" is not).
//   - IPv4 is a dotted quad of four decimal octets of one to three digits; leading zeros are read as
//     decimal ("010.0.0.1" is 10.0.0.1, as MySQL and PostgreSQL read it), never as octal.
//   - IPv6 is RFC 4291 text; an embedded IPv4 tail may not have leading zeros ("::ffff:01.2.3.4" is no
//     address, as for netip and PostgreSQL). A zone ("fe80::1%eth0") makes it no address: no server
//     stores one.
//   - An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is written as its IPv4 address.
//   - An address whose first six groups are zero and seventh is not is written "::a.b.c.d" (IPv4-
//     compatible), as MySQL's INET6_NTOA and PostgreSQL's inet output both do.
//   - Any other IPv6 address is written in RFC 5952 form: lower case, no leading zeros, the longest run
//     of two or more zero groups as "::", the first when tied, and a lone zero group as "0" (MySQL's
//     INET6_NTOA writes "::" there; the MySQL SQL corrects it).
//
// Binary columns (4 or 16 bytes) and PostgreSQL inet values are addresses already and skip the text
// rules. ok is false for anything that is not an address: such a value gets no hash (NULL).
// TestIPHashEveryPath runs one table of inputs through every server's trigger and backfill and this
// function.
func CanonicalIP(s string) (string, bool) {
	s = strings.Trim(s, " ")
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
