package dialect

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Maintainer spells what the maintenance tasks need that differs between servers. The core runs every
// task's batches itself (one transaction per batch with its audit row), on every server: so that the
// batch size, ctx cancellation between rows and batches and the handling of a row a child row holds on
// to are the same everywhere. The stored procedures the migrations create (cleanup, risk scores) run
// the same rules for the stock golang-migrate CLI's users; Rules renders them from the same code.
// Fallback: the maintenance tasks refuse to run (ErrUnsupported) on a dialect without it.
type Maintainer interface {
	// Rules are the cleanup and risk-score rules as SQL over the session table's current row.
	Rules(t Target) Rules
	// GeneratedColumns are the generated (computed) columns of table: the archive never writes one.
	GeneratedColumns(ctx context.Context, q Querier, srv Server, table string) (map[string]bool, error)
	// DropNotNull is the statement that makes column col of table nullable, keeping its type, or an
	// error saying why the server cannot.
	DropNotNull(ctx context.Context, q Querier, srv Server, table, col string) (string, error)
	// IndexColumn is the statement that indexes column col of table under a name the server picks
	// (or one of the table's own), so that it never collides with an index of a retired copy.
	IndexColumn(table, col string) string
	// Holds reports whether column dst stores every value of column src unchanged (false when dst's
	// type would round, cut or refuse one). SQLite, which stores any value as given, says true.
	Holds(src, dst *Column) bool
	// AddColumnLike is the statement that adds column col of table from to table to, with col's exact
	// type (character set and collation included), nullable and without a default, so that a copied row
	// keeps whatever value it had. It reads the column's definition through q.
	AddColumnLike(ctx context.Context, q Querier, srv Server, from, to, col string) (string, error)
}

// Rules are cleanup's and the risk score's SQL, for a dialect whose core-run batches stand in for
// stored routines.
type Rules interface {
	// Expired is what cleanup removes besides risky rows, at now: expired, or inactive where the layout
	// has an active flag.
	Expired(now time.Time) string
	// RiskScore is schema.Change.Risk's scoring rule over the current row at now.
	RiskScore(now time.Time) string
}

// TypeHolds reports whether a column of type dst holds every value of a column of type src, both as
// the catalog normalizes them ("decimal(10,2) unsigned", "timestamp(3) without time zone"): the same
// type, or the same type with a length, fractional-seconds precision or (precision, scale) at least as
// large. unset is the value of the one parameter a type was declared without (a DATETIME's 0 digits, a
// PostgreSQL timestamp's 6), ok false where it is unbounded or unknown. Anything else must be equal.
func TypeHolds(src, dst string, unset func(base string) (n int, ok bool)) bool {
	if src == dst {
		return true
	}
	sb, sp, ss, sok := splitType(src)
	db, dp, ds, dok := splitType(dst)
	// The same type with its parameters taken out ("timestamp without time zone" and
	// "timestamp(3) without time zone" are both a timestamp).
	if !sok || !dok || sb+ss != db+ds {
		return false
	}
	if len(sp) > 0 && len(dp) == 0 {
		db = sb
	} else if len(dp) > 0 && len(sp) == 0 {
		sb = db
	}
	one := func(p []int, base string) (int, bool) {
		if len(p) == 1 {
			return p[0], true
		}
		if len(p) == 0 {
			return unset(base)
		}
		return 0, false
	}
	if len(sp) == 2 || len(dp) == 2 {
		// (precision, scale): dst needs as many digits after the point and as many before it; one
		// declared without them where that is unbounded (a PostgreSQL numeric) holds any.
		if _, bounded := unset(db); len(dp) == 0 && !bounded {
			return true
		}
		if len(sp) != 2 || len(dp) != 2 {
			return false
		}
		return dp[1] >= sp[1] && dp[0]-dp[1] >= sp[0]-sp[1]
	}
	sn, sok := one(sp, sb)
	dn, dok := one(dp, db)
	if !dok && len(dp) == 0 {
		// dst declared without a bound that has no fixed default: unbounded (a PostgreSQL varchar).
		_, bounded := unset(db)
		return !bounded
	}
	return sok && dok && dn >= sn
}

// splitType splits "base(p1,p2) suffix" into its parts; ok false when a parameter is not a number
// (an ENUM's values).
func splitType(t string) (base string, params []int, suffix string, ok bool) {
	open := strings.IndexByte(t, '(')
	if open < 0 {
		return t, nil, "", true
	}
	end := strings.IndexByte(t[open:], ')')
	if end < 0 {
		return "", nil, "", false
	}
	for _, f := range strings.Split(t[open+1:open+end], ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return "", nil, "", false
		}
		params = append(params, n)
	}
	return t[:open], params, t[open+end+1:], true
}
