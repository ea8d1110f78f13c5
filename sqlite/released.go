package sqlite

import "github.com/agui-go/sessionsec/internal/dialect"

// released are the definitions the first release created (on the table "sessions").
// TestUpgradeFromRelease0 applies that release and checks the list is complete.
var released = dialect.Releases{
	"sessions_security_hash_trigger":        {"ae1ead1cfdc14cafc5eba32ce256bb11e4a945fc81ebbf0799704efd4376d377"},
	"sessions_validation_timestamp_trigger": {"4a32fad321a8feba9bc39e3ce056603249428d2940df981ce8d010ef3704a09c"},
}

// Released reports whether body is a definition of name an earlier release created.
func (Dialect) Released(name, body string) bool { return released.Has(name, body) }
