package sessionsec_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
)

// The start-up snippet of the README's "Session integrity": the keyring from HMAC_KEY, the pre-existing
// rows sealed once, then the sealer beside the HTTP server. It compiles here (no Output: it is not run).
func ExampleRunSealer() {
	var db *sql.DB // the application's pool
	var srv *http.Server
	ctx := context.Background()
	// README-seal-start:start
	ring, err := sessionsec.LoadKeyringFromEnv() // HMAC_KEY; or sessionsec.LoadKeyring(ctx, kmsSource)
	if err != nil {
		log.Fatal(err) // never logs the key: errors name key ids only
	}
	if err := sessionsec.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	sealerCtx, stopSealer := context.WithCancel(ctx)
	defer stopSealer()
	go func() {
		// Seals new (version 1) rows every second until sealerCtx ends; a failed pass is logged and retried.
		_ = sessionsec.RunSealer(sealerCtx, db, ring)
	}()
	log.Fatal(srv.ListenAndServe())
	// README-seal-start:end
}

// The request-path snippet of the README's "Session integrity".
func ExampleVerifySession() {
	var db *sql.DB
	var ring *sessionsec.Keyring
	var r *http.Request
	var w http.ResponseWriter
	sessionID := ""
	// README-seal-request:start
	v, err := sessionsec.VerifySession(r.Context(), db, ring, sessionID)
	if err != nil {
		http.Error(w, "session check failed", http.StatusServiceUnavailable)
		return
	}
	switch v.Status {
	case sessionsec.SealValid: // last_validated_at refreshed
	case sessionsec.SealUnsealed:
		// Written since the sealer's last pass (or planted): accept only where the application does
		// not call SealSession itself after writing a session.
	default: // SealTampered (risk_score raised, audited), SealUnknownKey, SealMissing
		http.Error(w, "invalid session", http.StatusUnauthorized)
		return
	}
	// README-seal-request:end
}

// TestREADMESealSnippets keeps the README's "Session integrity" snippets the code above, which compiles.
func TestREADMESealSnippets(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	requireT(t, err == nil, "README: %v", err)
	src, err := os.ReadFile("seal_example_test.go")
	requireT(t, err == nil, "source: %v", err)
	for _, name := range []string{"README-seal-start", "README-seal-request"} {
		_, snippet, _ := strings.Cut(string(src), "// "+name+":start\n")
		snippet, _, found := strings.Cut(snippet, "\n\t// "+name+":end")
		lines := strings.Split(snippet, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		want := "```go\n" + strings.Join(lines, "\n") + "\n```"
		requireT(t, found && strings.Contains(string(readme), want), "README.md's %s snippet differs; paste:\n%s", name, want)
	}
}

// RetireKey drops a rotated-out key from the ring once no session is sealed with it any more.
func ExampleProvider_RetireKey() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	p, err := sessionsec.New(db, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = p.Migrate(ctx)
	_, _ = db.Exec("INSERT INTO sessions (session_id, user_id) VALUES ('s1', 'u1')")
	oldKey, newKey := bytes.Repeat([]byte{1}, sessionsec.MinKeyBytes), bytes.Repeat([]byte{2}, sessionsec.MinKeyBytes)
	old, _ := sessionsec.NewKeyring("2026-06", map[string][]byte{"2026-06": oldKey})
	_, _ = p.Seal(ctx, old)

	// Rotation: the new key becomes the primary, the old one stays until its rows are re-sealed.
	both, _ := sessionsec.NewKeyring("2026-12", map[string][]byte{"2026-12": newKey, "2026-06": oldKey})
	_, err = p.RetireKey(ctx, both, "2026-06")
	fmt.Println(errors.Is(err, sessionsec.ErrKeyInUse))
	_, _ = p.Seal(ctx, both)
	next, err := p.RetireKey(ctx, both, "2026-06")
	fmt.Println(next.IDs(), err)
	// Output:
	// true
	// [2026-12] <nil>
}
