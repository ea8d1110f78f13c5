package sqlite

import (
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// AddColumns adds the security columns a partial earlier attempt did not (SQLite has no ADD COLUMN IF
// NOT EXISTS).
func (d Dialect) AddColumns(t dialect.Target, _ dialect.Server, missing []schema.Column) []string {
	return splitStatements(d.addColumns(t, missing))
}

// DropColumns drops the security columns that exist; nil when the step's own file drops all six.
func (Dialect) DropColumns(t dialect.Target, _ dialect.Server, present []string, _ *dialect.Catalog) []string {
	if len(present) == len(schema.Change.Columns) {
		return nil
	}
	return splitStatements(dropColumns(t, present))
}

// splitStatements splits rendered ALTER statements (one per line group, ";"-terminated, comments
// removed) for execution one at a time.
func splitStatements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	return out
}

// DropTable is the statement that drops a table.
func (Dialect) DropTable(name string) string { return "DROP TABLE IF EXISTS " + quote(name) }
