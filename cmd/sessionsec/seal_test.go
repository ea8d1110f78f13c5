package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestSealAndVerifyCommands: seal and verify through the built command on every server: the keyring
// from HMAC_KEY, JSON results, exit 1 when a row is tampered, exit 2 without a usable key, and the
// key's bytes in no output.
func TestSealAndVerifyCommands(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		dir := t.TempDir()
		db := []string{"-database", d.CLIURL}
		key := bytes.Repeat([]byte("Qz"), 16)
		env := []string{"HMAC_KEY=primary=k1;k1=base64:" + base64.StdEncoding.EncodeToString(key)}
		run := func(env []string, code int, args ...string) ran {
			t.Helper()
			r := runCmd(t, dir, env, "", args...)
			if r.code != code {
				t.Fatalf("sessionsec %v: exit %d, want %d\n%s%s", args, r.code, code, r.stdout, r.stderr)
			}
			for _, f := range []string{string(key), base64.StdEncoding.EncodeToString(key), hex.EncodeToString(key)} {
				if strings.Contains(r.stdout+r.stderr, f) {
					t.Fatalf("sessionsec %v shows the key:\n%s%s", args, r.stdout, r.stderr)
				}
			}
			return r
		}
		run(nil, 0, append(db, "up")...)
		for i, id := range []string{"a", "b", "c"} {
			mustExec(t, d, "INSERT INTO sessions (session_id, user_id, created_at, last_accessed_at, expires_at) VALUES ('"+id+"', 'u"+string(rune('0'+i))+"', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2036-01-02 00:00:00')")
		}
		r := run([]string{"HMAC_KEY="}, 2, append(db, "seal")...)
		requireOut(t, r.stderr, "HMAC_KEY is not set")
		run([]string{"HMAC_KEY=too-short"}, 2, append(db, "verify")...)

		out := jsonOf(t, run(env, 0, append(db, "seal", "-json")...))
		if s := out["seal"].(map[string]any); s["sealed"].(float64) != 3 || s["primary"] != "k1" {
			t.Fatalf("seal -json: %v", out)
		}
		requireOut(t, run(env, 0, append(db, "verify")...).stdout, "3 valid, 0 tampered")

		mustExec(t, d, "UPDATE sessions SET user_id = 'mallory' WHERE session_id = 'b'")
		out = jsonOf(t, run(env, 1, append(db, "verify", "-json", "-batch", "2")...))
		v := out["verify"].(map[string]any)
		if v["tampered"].(float64) != 1 || v["valid"].(float64) != 2 || v["tampered_keys"].([]any)[0] != "b" || out["ok"] != false {
			t.Fatalf("verify -json of a tampered table: %v", out)
		}
		r = run(env, 1, append(db, "verify")...)
		requireOut(t, r.stdout, "1 tampered")
		requireOut(t, r.stderr, "tampered session")
	})
}
