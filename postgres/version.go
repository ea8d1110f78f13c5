package postgres

import (
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// MinServerVersionNum is the oldest supported server_version_num: PostgreSQL 12 (procedures with
// COMMIT, built-in sha256, EXECUTE FUNCTION, metadata-only ADD COLUMN with a default).
const MinServerVersionNum = 120000

// checkVersion is the version gate.
func (*Dialect) checkVersion(num int, version string) error {
	if num >= MinServerVersionNum {
		return nil
	}
	return &dialect.ProblemError{Problem: dialect.Problem{
		Kind:    dialect.KindUnsupportedServer,
		Object:  "server PostgreSQL " + version,
		Message: fmt.Sprintf("PostgreSQL %s is older than the supported minimum (12)", version),
		Fix:     "upgrade the server to PostgreSQL 12 or newer",
	}}
}
