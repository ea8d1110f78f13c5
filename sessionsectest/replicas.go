package sessionsectest

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
)

// OpenAnother opens another, independent pool on the database of a pool this package returned (another
// replica of the same server, say). It is closed when the test ends.
func OpenAnother(tb testing.TB, db *sql.DB) *sql.DB {
	tb.Helper()
	v, ok := pools.Load(db)
	if !ok {
		tb.Fatal("sessionsectest: OpenAnother needs a *sql.DB that MySQL, MariaDB or Postgres returned")
	}
	p := v.(pool)
	other, err := sql.Open(p.driver, p.dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = other.Close() })
	return other
}

// CheckReplicas is the start-up of n replicas at once: n pools on db's database call sessionsec.Migrate
// at the same moment, as a deploy starts them. Every call must return nil and the result must validate.
// Run it against your own setup (your options, your table) to see that it holds there. Pass a database
// made WithoutMigrations to have the replicas do the migrating.
func CheckReplicas(tb testing.TB, db *sql.DB, n int, opts ...sessionsec.Option) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	replicas := make([]*sql.DB, n)
	for i := range replicas {
		replicas[i] = OpenAnother(tb, db)
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = sessionsec.Migrate(ctx, r, opts...)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Errorf("sessionsectest: replica %d of %d: Migrate: %v", i+1, n, err)
		}
	}
	if rep, err := sessionsec.Validate(ctx, db, opts...); err != nil {
		tb.Errorf("sessionsectest: after %d replicas: %v", n, err)
	} else if !rep.OK() {
		tb.Errorf("sessionsectest: after %d replicas: %s", n, rep)
	}
}
