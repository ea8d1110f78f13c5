package sessionsec

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/schema"
)

// Keyring errors. A keyring error never carries key material: it names the key id or the position
// of the entry, never its value.
var (
	// ErrKeyring: a keyring could not be built (a malformed HMAC_KEY, a duplicate id, no primary).
	ErrKeyring = errors.New("sessionsec: invalid keyring")
	// ErrKeyTooShort: a key has fewer than MinKeyBytes bytes. Generate one with
	// `openssl rand -base64 32` and give it as base64:<value>.
	ErrKeyTooShort = errors.New("sessionsec: key shorter than 32 bytes")
	// ErrNoKeyring: the environment has no HMAC_KEY, or the application's key source returned nothing.
	ErrNoKeyring = errors.New("sessionsec: no keys")
	// ErrKeyInUse: a key to retire still seals rows (the error says how many): seal them with the
	// primary key first (Seal), then retire it.
	ErrKeyInUse = errors.New("sessionsec: key still seals sessions")
)

// MinKeyBytes is the shortest key a keyring accepts: HMAC-SHA-256's own output size.
const MinKeyBytes = 32

// KeyEnv is the environment variable the seed names for the key (LoadKeyringFromEnv).
const KeyEnv = "HMAC_KEY"

// keyIDPattern is what a key id may look like: it is stored in encryption_key_id (at most 128
// characters) and printed in logs, so it is restricted to a harmless alphabet.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Keyring holds the seal keys, each under its id (what encryption_key_id stores), one of them the
// primary: new seals use the primary key; verification accepts every key of the ring. A Keyring is
// immutable and safe for concurrent use. It never shows its keys: fmt's verbs, slog and encoding/json
// print only the ids.
type Keyring struct {
	primary string
	ids     []string // sorted
	keys    map[string][]byte
}

// NewKeyring builds a keyring from keys by id with the given primary id. Every key must have at least
// MinKeyBytes bytes (ErrKeyTooShort) and a valid id: 1 to 128 characters of letters, digits and
// ". _ : -", starting with a letter or digit, and not schema.Change.DefaultKeyID, which marks the
// unkeyed version 1 rows. The keyring keeps copies of the keys.
func NewKeyring(primary string, keys map[string][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: the keyring is empty", ErrNoKeyring)
	}
	k := &Keyring{primary: primary, keys: map[string][]byte{}}
	for id, b := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("%w: key id %q: use 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", ErrKeyring, printableID(id))
		}
		if id == schema.Change.DefaultKeyID {
			return nil, fmt.Errorf("%w: key id %q is reserved: it marks rows the migration filled without a key", ErrKeyring, id)
		}
		if len(b) < MinKeyBytes {
			return nil, fmt.Errorf("%w: key %q has %d bytes; generate one with `openssl rand -base64 32` and give it as base64:<value>", ErrKeyTooShort, id, len(b))
		}
		k.keys[id] = slices.Clone(b)
		k.ids = append(k.ids, id)
	}
	slices.Sort(k.ids)
	if _, ok := k.keys[primary]; !ok {
		return nil, fmt.Errorf("%w: the primary key id %q is not one of the keys (%s)", ErrKeyring, printableID(primary), strings.Join(k.ids, ", "))
	}
	return k, nil
}

// KeySource is a function the application supplies to load its keys, from a KMS or a secret store:
// it returns the keys by id and the primary id.
type KeySource func(ctx context.Context) (primary string, keys map[string][]byte, err error)

// LoadKeyring builds a keyring from the application's key source. The source's error is wrapped as it
// is: make sure it carries no key material.
func LoadKeyring(ctx context.Context, src KeySource) (*Keyring, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil key source", ErrNoKeyring)
	}
	primary, keys, err := src(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: the key source failed: %w", ErrNoKeyring, err)
	}
	return NewKeyring(primary, keys)
}

// LoadKeyringFromEnv reads the keyring from the HMAC_KEY environment variable (ParseKeyring).
func LoadKeyringFromEnv() (*Keyring, error) {
	v, ok := os.LookupEnv(KeyEnv)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: %s is not set (see the README's \"Session integrity\" for its format)", ErrNoKeyring, KeyEnv)
	}
	return ParseKeyring(v)
}

// ParseKeyring reads a keyring in the HMAC_KEY format. Two forms:
//
// A single key, which is then the primary: its bytes as they are (at least 32 of them, as the seed's
// HMAC_KEY="your-strong-hmac-key-min-32-chars"), or "base64:<standard base64>", or "hex:<hex>". Its
// id is derived from the key: "hmac-" and the first 12 hex digits of the SHA-256 of
// "sessionsec/key-id/v1|" and the key, so a new HMAC_KEY gets a new id and the old rows are recognised as
// sealed by a key that left the ring (UnknownKey) instead of looking tampered.
//
// Several keys: "primary=<id>" followed by ";"-separated "<id>=<encoding>:<value>" entries, the
// encoding one of base64, hex or raw:
//
//	HMAC_KEY="primary=2026-12;2026-12=base64:q0x...;2026-06=base64:Zt1..."
//
// Spaces around entries are ignored. A value that starts with "primary=" is always read as this form.
func ParseKeyring(s string) (*Keyring, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "primary=") {
		b, err := decodeKey(s, true)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrKeyring, KeyEnv, err)
		}
		id := DerivedKeyID(b)
		return NewKeyring(id, map[string][]byte{id: b})
	}
	var primary string
	keys := map[string][]byte{}
	for i, e := range strings.Split(s, ";") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		id, val, ok := strings.Cut(e, "=")
		id = strings.TrimSpace(id)
		if !ok || id == "" {
			return nil, fmt.Errorf("%w: %s entry %d: want <id>=<encoding>:<value>", ErrKeyring, KeyEnv, i+1)
		}
		if i == 0 {
			primary = strings.TrimSpace(val)
			continue
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("%w: %s: key id %q appears twice", ErrKeyring, KeyEnv, printableID(id))
		}
		b, err := decodeKey(strings.TrimSpace(val), false)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key %q: %w", ErrKeyring, KeyEnv, printableID(id), err)
		}
		keys[id] = b
	}
	return NewKeyring(primary, keys)
}

// decodeKey reads "base64:", "hex:" or "raw:" values; bare values only where bare is allowed. Its
// errors never quote the value.
func decodeKey(v string, bare bool) ([]byte, error) {
	enc, val, ok := strings.Cut(v, ":")
	switch {
	case ok && enc == "base64":
		b, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(val); err != nil {
				return nil, errors.New("the base64 value does not decode (standard alphabet expected)")
			}
		}
		return b, nil
	case ok && enc == "hex":
		b, err := hex.DecodeString(val)
		if err != nil {
			return nil, errors.New("the hex value does not decode")
		}
		return b, nil
	case ok && enc == "raw":
		return []byte(val), nil
	case bare:
		return []byte(v), nil
	}
	return nil, errors.New("want base64:<value>, hex:<value> or raw:<value>")
}

// DerivedKeyID is the id a single HMAC_KEY gets: "hmac-" and 12 hex digits of a domain-separated
// SHA-256 of the key (a fingerprint that reveals nothing usable about a 32-byte key).
func DerivedKeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("sessionsec/key-id/v1|"))
	h.Write(key)
	return "hmac-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// printableID keeps an id that failed validation out of a message when it could be a pasted key.
func printableID(id string) string {
	if len(id) > 40 {
		return id[:8] + "..."
	}
	return id
}

// Primary is the primary key's id.
func (k *Keyring) Primary() string { return k.primary }

// IDs lists the key ids, sorted.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Has reports whether the ring holds a key with this id.
func (k *Keyring) Has(id string) bool { _, ok := k.keys[id]; return ok }

// key returns the key with this id.
func (k *Keyring) key(id string) ([]byte, bool) {
	b, ok := k.keys[id]
	return b, ok
}

// String shows the ids only.
func (k *Keyring) String() string {
	if k == nil {
		return "Keyring(nil)"
	}
	return fmt.Sprintf("Keyring(primary=%s, keys=[%s])", k.primary, strings.Join(k.ids, " "))
}

// GoString is String, so that %#v shows no key either.
func (k *Keyring) GoString() string { return k.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x) print String.
func (k *Keyring) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue makes slog log the ids only.
func (k *Keyring) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("Keyring(nil)")
	}
	return slog.GroupValue(slog.String("primary", k.primary), slog.Any("keys", k.ids))
}

// MarshalJSON writes the ids only: {"primary": ..., "keys": [...]}.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	if k == nil {
		return []byte("null"), nil
	}
	ids := k.ids
	if ids == nil {
		ids = []string{}
	}
	return fmt.Appendf(nil, `{"primary":%q,"keys":%s}`, k.primary, jsonStrings(ids)), nil
}

// MarshalText keeps encoding.TextMarshaler users (some loggers) on the ids too.
func (k *Keyring) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func jsonStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// without returns the keyring without id (the primary cannot go).
func (k *Keyring) without(id string) (*Keyring, error) {
	if id == k.primary {
		return nil, fmt.Errorf("%w: %q is the primary key: make another key the primary first", ErrKeyring, id)
	}
	if !k.Has(id) {
		return nil, fmt.Errorf("%w: the keyring has no key %q", ErrKeyring, printableID(id))
	}
	keys := map[string][]byte{}
	for _, i := range k.ids {
		if i != id {
			keys[i] = k.keys[i]
		}
	}
	return NewKeyring(k.primary, keys)
}
