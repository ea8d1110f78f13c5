package dialecttest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// leaseTable is the lease table of the suite's runs.
const leaseTable = "schema_migrations_lock"

// RunLease runs the lease lock's case (a Leaser's LeaseSQL) with two independent pools on the same
// database: a and b may be two pools on one server, two nodes of a cluster or two pools through a
// transaction pooler - the topologies the lease is for. Run calls it with two pools on one server; a
// topology's test calls it with its own.
//
// It checks the lease's safety (never two holders: an acquire while the row is held takes nothing, a
// renewal or release by a holder that lost the row changes nothing) and its liveness (a released or
// expired row is taken). A write that loses a cluster conflict (IsConflict) counts as not taken; what
// must succeed is retried for a few seconds, since a cluster node applies another node's commit
// asynchronously.
func RunLease(t *testing.T, d dialect.Leaser, a, b *sql.DB) {
	ls := d.LeaseSQL(leaseTable)
	for _, db := range []*sql.DB{a, b, a} {
		eventually(t, "create and seed the lease table", func() (bool, error) {
			if _, err := db.ExecContext(ctxT(t), ls.Create); err != nil {
				return false, err
			}
			_, err := db.ExecContext(ctxT(t), ls.Seed)
			return err == nil, err
		})
	}
	const long = 30 * time.Second
	acquire := func(db *sql.DB, holder string, ttl time.Duration) bool {
		t.Helper()
		return affects(t, d, db, ls.Acquire, holder, ttl.Microseconds())
	}
	token := func(db *sql.DB, holder string) int64 {
		t.Helper()
		var tok int64
		eventually(t, "read the token of "+holder, func() (bool, error) {
			err := db.QueryRowContext(ctxT(t), ls.Token, holder).Scan(&tok)
			return err == nil, err
		})
		return tok
	}

	eventually(t, "a takes the free lease", func() (bool, error) { return acquire(a, "holder-a", long), nil })
	ta := token(a, "holder-a")
	if acquire(b, "holder-b", long) {
		t.Fatal("b took the lease while a holds it")
	}
	if affects(t, d, b, ls.Renew, long.Microseconds(), "holder-b", ta) {
		t.Error("b renewed a lease it does not hold")
	}
	if affects(t, d, b, ls.Release, "holder-b", ta) {
		t.Error("b released a lease it does not hold")
	}
	eventually(t, "a renews its lease", func() (bool, error) {
		return affects(t, d, a, ls.Renew, long.Microseconds(), "holder-a", ta), nil
	})
	eventually(t, "a releases its lease", func() (bool, error) { return affects(t, d, a, ls.Release, "holder-a", ta), nil })

	eventually(t, "b takes the released lease", func() (bool, error) { return acquire(b, "holder-b", 300*time.Millisecond), nil })
	tb := token(b, "holder-b")
	if tb <= ta {
		t.Errorf("token %d after %d: every acquire must increase it (the fence)", tb, ta)
	}
	// b's short lease expires without a renewal: a takes it, and b's renewal and release then find the
	// row no longer theirs.
	eventually(t, "a takes the expired lease", func() (bool, error) { return acquire(a, "holder-a", long), nil })
	if affects(t, d, b, ls.Renew, long.Microseconds(), "holder-b", tb) {
		t.Error("b renewed a lease that expired and was taken")
	}
	if affects(t, d, b, ls.Release, "holder-b", tb) {
		t.Error("b released a lease that expired and was taken")
	}
	var holder string
	var tok int64
	var left float64
	eventually(t, "read the lease's state", func() (bool, error) {
		err := a.QueryRowContext(ctxT(t), ls.State).Scan(&holder, &tok, &left)
		return err == nil, err
	})
	if holder != "holder-a" || tok <= tb || left < 1 {
		t.Errorf("state (%q, token %d, %.1fs left), want holder-a with a token above %d and most of its TTL left", holder, tok, left, tb)
	}
}

// affects runs a lease statement and reports whether it changed the row; a lost cluster conflict is
// "no".
func affects(t testing.TB, d dialect.Leaser, db *sql.DB, query string, args ...any) bool {
	t.Helper()
	res, err := db.ExecContext(ctxT(t), query, args...)
	if err != nil {
		if d.IsConflict(err) {
			return false
		}
		t.Fatalf("%s: %v", query, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// eventually polls f for up to 10 s, failing t with what with the last error.
func eventually(t testing.TB, what string, f func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), 10*time.Second)
	defer cancel()
	var err error
	for {
		var ok bool
		if ok, err = f(); ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within 10s (last error: %v)", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
