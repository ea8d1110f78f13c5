package sessionsec_test

import (
	"context"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	_ "github.com/agui-go/sessionsec/mysql"
	_ "github.com/agui-go/sessionsec/postgres"
	_ "github.com/agui-go/sessionsec/sqlite"
)

func TestSmokeMySQL(t *testing.T) {
	for _, s := range testdb.Servers {
		t.Run(s.Name, func(t *testing.T) {
			d := testdb.New(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := sessionsec.Migrate(ctx, d.DB); err != nil {
				t.Fatal(err)
			}
			rep, err := sessionsec.Validate(ctx, d.DB)
			t.Log(rep)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.DB.Exec("INSERT INTO sessions (session_id, user_id) VALUES ('test-session', 'test-user')"); err != nil {
				t.Fatal(err)
			}
			if err := sessionsec.Rollback(ctx, d.DB); err != nil {
				t.Fatal(err)
			}
			rep, err = sessionsec.Validate(ctx, d.DB, sessionsec.ExpectRolledBack())
			t.Log(rep)
			if err != nil {
				t.Fatal(err)
			}
			if err := sessionsec.Migrate(ctx, d.DB); err != nil {
				t.Fatal(err)
			}
			rep, err = sessionsec.Validate(ctx, d.DB)
			if err != nil {
				t.Fatal(err, rep)
			}
		})
	}
}
