package postgres

import (
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgconn"
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

// TestRefusal: insufficient_privilege is privileges, read_only_sql_transaction read-only, from lib/pq
// and pgx alike.
func TestRefusal(t *testing.T) {
	for code, want := range map[string]dialect.Kind{"42501": dialect.KindPrivileges, "25006": dialect.KindReadOnly, "55P03": 0, "23505": 0} {
		for _, err := range []error{&pq.Error{Code: pq.ErrorCode(code)}, &pgconn.PgError{Code: code}} {
			if got := (Dialect{}).Refusal(err); got != want {
				t.Errorf("Refusal(%s, %T) = %v, want %v", code, err, got, want)
			}
		}
	}
}
