package postgres

import (
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// released are the definitions the first release created (on the table "sessions"; trigger bodies are
// their functions' source). TestUpgradeFromRelease0 applies that release and checks the list is complete.
var released = dialect.Releases{
	"sessions_security_hash_trigger":           {"802df693a8d1ed1e2cb4a3d104113e404464192c896281f1709aed4edc24cd01"},
	"sessions_security_hash_trigger_fn":        {"802df693a8d1ed1e2cb4a3d104113e404464192c896281f1709aed4edc24cd01"},
	"sessions_validation_timestamp_trigger":    {"69769f83e2d1710664f9218ea06cef6e2e8ff0781602d5112e39212d2f3df30f"},
	"sessions_validation_timestamp_trigger_fn": {"69769f83e2d1710664f9218ea06cef6e2e8ff0781602d5112e39212d2f3df30f"},
	"backfillsessionsecurity":                  {"bea409ee6a738b918a4c81b18a793931e35717f8f7431742ab4838440865ddb5"},
	"cleanupexpiredsecuresessions":             {"36e72f48d6fc48c46e9b36abb6f9a08cbe224a7f4c3286670d5e3f08cdc76b4c"},
	"updatesessionriskscores":                  {"9c4aa9427d312b6060c1d1598fafafa9abdab06d2cca2774de26ea32d344a246"},
	"sessionsec_retire_table":                  {"c8a8ea82b0ac42a9b4f0a3d9294423f2da07761796cffa9c116df730eeae5d15"},
	"session_security_hash":                    {"4afd345e50a4bd004fe8e37ec32c33e35d6fbc9cf40279261e733f3303164957"},
	// The IP helper before issue 19's text rules (it cast the whole trimmed text to inet, so "10/8" and
	// "0010.0.0.1" got a hash and "10.0.0.1/33" none); TestHashFixReachesInstalledDatabase installs it.
	"sessionsec_ip_hash": {"7fc24fabfdebe0866b49cecd5c18161f2267dd6a1ff8614574aae11d28f5aaec"},
}

// Released reports whether body is a definition of name an earlier release created.
func (Dialect) Released(name, body string) bool { return released.Has(strings.ToLower(name), body) }
