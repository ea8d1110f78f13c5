package dialect

import "github.com/agui-go/sessionsec/schema"

// AutoIncrementProblems refuses a hashed column (key or user) that is AUTO_INCREMENT: MySQL and MariaDB assign
// its value after the BEFORE INSERT trigger has run, which sees 0, so every row the application inserts
// would get the hash of "0" and the hash would still look filled. An AFTER INSERT trigger cannot fix the
// row (MySQL forbids updating the table a trigger fires on), so the change refuses the table instead of
// hashing wrongly; the operator's choices are in the fix. Only MySQL's catalog sets
// Column.AutoIncrement (a PostgreSQL identity or serial is assigned before BEFORE triggers run).
func AutoIncrementProblems(t Target, cat *Catalog) []Problem {
	tbl := cat.Tables[t.Names.Table]
	if tbl == nil {
		return nil
	}
	var out []Problem
	for _, role := range []schema.Role{schema.RoleKey, schema.RoleUser} {
		if !t.Has(role) {
			continue
		}
		if c := tbl.Column(t.Col(role)); c != nil && c.AutoIncrement {
			out = append(out, Problem{Kind: KindIncompatibleTable, Object: "column " + t.Names.Table + "." + c.Name,
				Message: "is AUTO_INCREMENT: the server assigns it after the BEFORE INSERT trigger has run, which sees 0, so every new row would get the hash of " +
					c.Name + " = 0 (an AFTER INSERT trigger cannot update the row on MySQL)",
				Fix: "hash a value the application assigns before the insert: map the " + role.String() + " role to such a column (WithLayout with the layout's Map; the command's -columns " +
					role.String() + "=<column>), or drop AUTO_INCREMENT from " + c.Name + " and have the application supply it (ALTER TABLE `" + t.Names.Table +
					"` MODIFY `" + c.Name + "` <its type> NOT NULL), then retry"})
		}
	}
	return out
}
