package sessionsec

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strconv"

	"github.com/agui-go/sessionsec/schema"
)

// SealVersion is the security_version of a sealed row. Version 1 rows carry the unkeyed
// security_hash of the triggers and the backfill; version 2 rows carry a keyed seal.
//
// A sealed row keeps the change's columns and gives them their keyed meaning:
//
//	security_version  = 2
//	encryption_key_id = the id of the keyring key that sealed it
//	security_hash     = the seal: lower-case hex HMAC-SHA-256(key, seal input)
//	created_ip_hash   = lower-case hex HMAC-SHA-256(key, "sessionsec/ip/v2|" + CanonicalIP(ip)), where
//	                    the layout has an IP column (NULL for a NULL or unparsable IP)
//
// The seal input is
//
//	"sessionsec/seal/v2" | F(key id) | F(session key) | F(user) | E(created) | IP
//
// joined by "|", with F and E as in schema.SecurityHash (F(NULL) = "-", F(s) = <byte length> ":" s;
// E = whole seconds since the Unix epoch, rounded down, "-" for NULL; binary keys and users as
// lower-case hex). IP is, for a layout with an IP column: "-" for NULL, "ip" F(CanonicalIP(ip)) for an
// address, "raw" F(text) for anything else; for a layout without one: "-" when created_ip_hash is NULL,
// else "hash" F(created_ip_hash) - the application's own binding, sealed as it is.
//
// What the seal covers never changes during a session's life. The SDK store rewrites last_accessed,
// expires_at, is_active, data and metadata on every read; those stay outside the seal, so a writer of
// the table can still extend a session (expires_at), revive one (is_active) or change its data without
// the seal noticing - see the README's "Session integrity".
const SealVersion = 2

const (
	sealPrefix = "sessionsec/seal/v2"
	ipPrefix   = "sessionsec/ip/v2|"
)

// The audit actions of sealing.
const (
	// AuditSeal is one batch of Seal or RunSealer: {"sealed": N, "resealed": R, "tampered": T, "unknown_key": U}.
	AuditSeal = "SESSION_SEAL"
	// AuditTampered is one row whose seal does not match: session_id is its key, details {"check": "seal"}
	// or {"check": "ip_hash"}, risk_score the score it was given.
	AuditTampered = "SESSION_TAMPERED"
)

// sealRow is what the seal reads of one row.
type sealRow struct {
	raw     any // the key as it is bound back
	key     sql.NullString
	user    sql.NullString
	epoch   sql.NullInt64
	ip      sql.NullString
	version sql.NullInt64
	keyID   sql.NullString
	seal    sql.NullString
	ipHash  sql.NullString
}

func appendField(b []byte, s sql.NullString) []byte {
	if !s.Valid {
		return append(b, '-')
	}
	b = strconv.AppendInt(b, int64(len(s.String)), 10)
	b = append(b, ':')
	return append(b, s.String...)
}

// sealInput is the documented seal input of r under key id.
func sealInput(keyID string, r *sealRow, hasIP bool) []byte {
	b := []byte(sealPrefix)
	b = appendField(append(b, '|'), sql.NullString{String: keyID, Valid: true})
	b = appendField(append(b, '|'), r.key)
	b = appendField(append(b, '|'), r.user)
	b = append(b, '|')
	if r.epoch.Valid {
		b = strconv.AppendInt(b, r.epoch.Int64, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, '|')
	switch {
	case hasIP && !r.ip.Valid, !hasIP && !r.ipHash.Valid:
		b = append(b, '-')
	case hasIP:
		if c, ok := schema.CanonicalIP(r.ip.String); ok {
			b = appendField(append(b, "ip"...), sql.NullString{String: c, Valid: true})
		} else {
			b = appendField(append(b, "raw"...), r.ip)
		}
	default:
		b = appendField(append(b, "hash"...), r.ipHash)
	}
	return b
}

func hmacHex(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// sealOf computes the seal and the keyed IP binding of r under key id (ipHash is NULL where the layout
// has no IP column: the stored value is then sealed as it is and not rewritten).
func sealOf(key []byte, id string, r *sealRow, hasIP bool) (seal string, ipHash sql.NullString) {
	seal = hmacHex(key, sealInput(id, r, hasIP))
	if hasIP && r.ip.Valid {
		if c, ok := schema.CanonicalIP(r.ip.String); ok {
			ipHash = sql.NullString{String: hmacHex(key, []byte(ipPrefix+c)), Valid: true}
		}
	}
	return seal, ipHash
}

// SealStatus is what verification found for one session.
type SealStatus int

// The verification results.
const (
	// SealValid: the row carries a seal of a key of the ring over its current fields.
	SealValid SealStatus = iota + 1
	// SealTampered: the row claims a seal (security_version 2, a key of the ring) that does not match
	// its fields: the user, creation time, IP, key id or seal was changed by a writer without the key,
	// or the row was planted.
	SealTampered
	// SealUnsealed: the row is not sealed yet (security_version 1, written by the triggers or before
	// the migration). Where the application seals every session it writes (SealSession), an unsealed
	// row is one it did not write.
	SealUnsealed
	// SealUnknownKey: the row is sealed with a key id that is not in the ring (a retired key, or one
	// the row's writer made up).
	SealUnknownKey
	// SealMissing: no row has this key.
	SealMissing
)

var sealStatusNames = map[SealStatus]string{SealValid: "valid", SealTampered: "tampered", SealUnsealed: "unsealed",
	SealUnknownKey: "unknown_key", SealMissing: "missing"}

func (s SealStatus) String() string {
	if n, ok := sealStatusNames[s]; ok {
		return n
	}
	return "SealStatus(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the status's name.
func (s SealStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// The checks a tampered row fails.
const (
	CheckSeal   = "seal"    // security_hash is not the seal of the row's fields
	CheckIPHash = "ip_hash" // created_ip_hash is not the keyed binding of the row's IP
)

// classify verifies r against the ring: which status, and for a tampered row which check failed.
func classify(k *Keyring, r *sealRow, hasIP bool) (SealStatus, string) {
	if !r.version.Valid || r.version.Int64 != SealVersion {
		return SealUnsealed, ""
	}
	if !r.keyID.Valid {
		return SealUnknownKey, ""
	}
	key, ok := k.key(r.keyID.String)
	if !ok {
		return SealUnknownKey, ""
	}
	want, wantIP := sealOf(key, r.keyID.String, r, hasIP)
	if !hmac.Equal([]byte(want), []byte(r.seal.String)) || !r.seal.Valid {
		return SealTampered, CheckSeal
	}
	if hasIP && (wantIP.Valid != r.ipHash.Valid || !hmac.Equal([]byte(wantIP.String), []byte(r.ipHash.String))) {
		return SealTampered, CheckIPHash
	}
	return SealValid, ""
}
