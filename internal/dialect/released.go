package dialect

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// Fingerprint identifies a trigger or routine definition: the SHA-256 of its body, white space
// collapsed. Dialects keep the fingerprints of what earlier releases created, so that a definition of
// their own, however old, is replaced, while one they never wrote is refused as a conflict.
func Fingerprint(body string) string {
	sum := sha256.Sum256([]byte(NormalizeSpace(body)))
	return hex.EncodeToString(sum[:])
}

// Releases maps an object name to the fingerprints of its earlier releases' definitions.
type Releases map[string][]string

// Has reports whether body is one of name's earlier definitions.
func (r Releases) Has(name, body string) bool { return slices.Contains(r[name], Fingerprint(body)) }
