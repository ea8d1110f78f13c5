package postgres

import (
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/lib/pq"

	"github.com/agui-go/sessionsec/internal/dialect"
)

func TestScrub(t *testing.T) {
	err := &pq.Error{Code: "22P02", Message: `invalid input syntax for type inet: "10.0.0.999"`, Detail: "Key (id)=(secret-session) already exists."}
	got := Dialect{}.Scrub(err)
	if strings.Contains(got, "10.0.0.999") || strings.Contains(got, "secret-session") || !strings.Contains(got, "22P02") {
		t.Errorf("Scrub = %q", got)
	}
	// Inside golang-migrate's database.Error (no Unwrap), whose own message embeds the statement.
	for _, wrapped := range []error{database.Error{OrigErr: err, Err: "migration failed", Query: []byte("INSERT ... 'secret-query'")},
		&database.Error{OrigErr: err, Err: "migration failed", Query: []byte("INSERT ... 'secret-query'")}} {
		got := Dialect{}.Scrub(wrapped)
		if strings.Contains(got, "10.0.0.999") || strings.Contains(got, "secret") || !strings.Contains(got, "22P02") {
			t.Errorf("Scrub(%T) = %q", wrapped, got)
		}
	}
	if !(Dialect{}).IsLockTimeout(&pq.Error{Code: "55P03"}) || (Dialect{}).IsLockTimeout(err) {
		t.Error("lock timeout classification")
	}
}

func TestFamily(t *testing.T) {
	for typ, want := range map[string]dialect.Family{
		"timestamp with time zone": dialect.FamInstant, "timestamptz": dialect.FamInstant,
		"timestamp(6) without time zone": dialect.FamWallClock, "character varying(64)": dialect.FamText,
		"inet": dialect.FamInet, "bytea": dialect.FamBinary, "uuid": dialect.FamUUID, "jsonb": dialect.FamJSON,
	} {
		if got := (Dialect{}).Family(typ); got != want {
			t.Errorf("Family(%q) = %d, want %d", typ, got, want)
		}
	}
}
