package sessionsec_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
)

// testKey is a 32-byte key whose every encoding is easy to grep for in outputs.
func testKey(tag byte) []byte { return bytes.Repeat([]byte{'K', tag}, 16) }

// keyForms are the ways a key's bytes could leak into text.
func keyForms(k []byte) []string {
	return []string{string(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), fmt.Sprint(k), fmt.Sprintf("%x", k), fmt.Sprintf("%X", k)}
}

// requireNoKey fails when out holds any form of any of the keys.
func requireNoKey(t testing.TB, what, out string, keys ...[]byte) {
	t.Helper()
	for _, k := range keys {
		for _, f := range keyForms(k) {
			if f != "" && strings.Contains(out, f) {
				t.Fatalf("%s shows a key (%q...):\n%s", what, f[:min(len(f), 8)], out)
			}
		}
	}
}

func TestParseKeyring(t *testing.T) {
	a, b := testKey('a'), testKey('b')
	ring := "primary=2026-12; 2026-12=base64:" + base64.StdEncoding.EncodeToString(a) + ";2026-06=hex:" + hex.EncodeToString(b)
	k, err := sessionsec.ParseKeyring(ring)
	requireT(t, err == nil, "ParseKeyring: %v", err)
	requireT(t, k.Primary() == "2026-12" && strings.Join(k.IDs(), ",") == "2026-06,2026-12", "ring %v", k)

	// The seed's single key: its bytes as they are, an id derived from it.
	single := "your-strong-hmac-key-min-32-chars"
	k1, err := sessionsec.ParseKeyring(single)
	requireT(t, err == nil && k1.Primary() == sessionsec.DerivedKeyID([]byte(single)) && strings.HasPrefix(k1.Primary(), "hmac-"), "single: %v %v", k1, err)
	k2, err := sessionsec.ParseKeyring("base64:" + base64.StdEncoding.EncodeToString(a))
	requireT(t, err == nil && k2.Primary() == sessionsec.DerivedKeyID(a), "base64 single: %v %v", k2, err)
	k3, err := sessionsec.ParseKeyring("hex:" + hex.EncodeToString(a))
	requireT(t, err == nil && k3.Primary() == k2.Primary(), "hex single: %v %v", k3, err)

	for _, c := range []struct {
		in   string
		want error
	}{
		{"short-key", sessionsec.ErrKeyTooShort},
		{"base64:" + base64.StdEncoding.EncodeToString(a[:31]), sessionsec.ErrKeyTooShort},
		{"hex:zz", sessionsec.ErrKeyring},
		{"primary=x;x=base64:" + base64.StdEncoding.EncodeToString(a[:16]), sessionsec.ErrKeyTooShort},
		{"primary=y;x=base64:" + base64.StdEncoding.EncodeToString(a), sessionsec.ErrKeyring},
		{"primary=x;x=" + string(a), sessionsec.ErrKeyring}, // no encoding in the multi-key form
		{"primary=x;x=raw:" + string(a) + ";x=raw:" + string(b), sessionsec.ErrKeyring},
		{"primary=migration-default-key;migration-default-key=raw:" + string(a), sessionsec.ErrKeyring},
		{"primary=a b;a b=raw:" + string(a), sessionsec.ErrKeyring},
	} {
		_, err := sessionsec.ParseKeyring(c.in)
		requireT(t, errors.Is(err, c.want), "%.20q: %v, want %v", c.in, err, c.want)
		requireNoKey(t, "the error", err.Error(), a, b, a[:31], a[:16])
	}
	_, err = sessionsec.NewKeyring("x", nil)
	requireT(t, errors.Is(err, sessionsec.ErrNoKeyring), "empty ring: %v", err)
	t.Setenv(sessionsec.KeyEnv, "")
	_, err = sessionsec.LoadKeyringFromEnv()
	requireT(t, errors.Is(err, sessionsec.ErrNoKeyring), "no env: %v", err)
	t.Setenv(sessionsec.KeyEnv, ring)
	ke, err := sessionsec.LoadKeyringFromEnv()
	requireT(t, err == nil && ke.Primary() == "2026-12", "env: %v %v", ke, err)
	kf, err := sessionsec.LoadKeyring(context.Background(), func(context.Context) (string, map[string][]byte, error) {
		return "kms-1", map[string][]byte{"kms-1": a}, nil
	})
	requireT(t, err == nil && kf.Primary() == "kms-1", "key source: %v %v", kf, err)
	_, err = sessionsec.LoadKeyring(context.Background(), func(context.Context) (string, map[string][]byte, error) {
		return "", nil, errors.New("kms down")
	})
	requireT(t, errors.Is(err, sessionsec.ErrNoKeyring) && strings.Contains(err.Error(), "kms down"), "failing key source: %v", err)
}

// TestKeyringNeverShowsKeys: every way a program prints or logs a keyring shows the ids only.
func TestKeyringNeverShowsKeys(t *testing.T) {
	a, b := testKey('a'), testKey('b')
	k, err := sessionsec.NewKeyring("one", map[string][]byte{"one": a, "two": b})
	requireT(t, err == nil, "NewKeyring: %v", err)
	a[0] = 'X' // the ring keeps its own copy
	a[0] = 'K'
	holder := struct {
		Ring *sessionsec.Keyring
		N    int
	}{k, 1}
	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		fmt.Fprintf(&out, verb+"\n", k)
		fmt.Fprintf(&out, verb+"\n", holder)
		fmt.Fprintf(&out, verb+"\n", &holder)
	}
	js, err := json.Marshal(holder)
	requireT(t, err == nil, "json: %v", err)
	out.Write(js)
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("ring", "keys", k, "holder", holder)
	}
	out.Write(logs.Bytes())
	requireNoKey(t, "the printed keyring", out.String(), a, b)
	requireT(t, strings.Contains(out.String(), "one") && strings.Contains(string(js), `"primary":"one"`), "the ids are missing:\n%s", out.String())
}
