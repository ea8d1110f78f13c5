package schema

// Expected is the schema the embedded migrations produce: the single source of truth for Validate,
// the tests and the README.
var Expected = Schema{
	Sessions: "sessions",
	BaseColumns: []Column{
		{Name: "session_id", Type: TypeSessionID},
		{Name: "user_id", Type: TypeUserID, Nullable: true},
		{Name: "created_at", Type: TypeTimestamp, Default: DefaultNow},
		{Name: "expires_at", Type: TypeTimestamp, Nullable: true},
		{Name: "last_accessed_at", Type: TypeTimestamp, Nullable: true},
	},
	SecurityColumns: []Column{
		{Name: "security_hash", Type: TypeHash, Nullable: true,
			Comment: "SHA-256 integrity hash over the canonical session fields (sessionsec/v1)"},
		{Name: "encryption_key_id", Type: TypeKeyID, Nullable: true,
			Comment: "Identifier of the external encryption key protecting this session"},
		{Name: "created_ip_hash", Type: TypeHash, Nullable: true,
			Comment: "SHA-256 of the client IP that created the session (privacy-preserving binding)"},
		{Name: "security_version", Type: TypeVersion, Default: DefaultOne,
			Comment: "Version of the session security implementation"},
		{Name: "last_validated_at", Type: TypeTimestamp, Nullable: true,
			Comment: "When the session was last validated"},
		{Name: "risk_score", Type: TypeRiskScore, Default: DefaultZero,
			Comment: "Session risk score, 0 (none) to 100 (highest)"},
	},
	Indexes: []Index{
		{Name: "idx_sessions_security_hash", Table: "sessions", Columns: []string{"security_hash"},
			Partial: &Predicate{Column: "security_hash", Op: IsNotNull}},
		{Name: "idx_sessions_encryption_key", Table: "sessions", Columns: []string{"encryption_key_id"},
			Partial: &Predicate{Column: "encryption_key_id", Op: IsNotNull}},
		{Name: "idx_sessions_ip_hash", Table: "sessions", Columns: []string{"created_ip_hash"},
			Partial: &Predicate{Column: "created_ip_hash", Op: IsNotNull}},
		{Name: "idx_sessions_security_version", Table: "sessions", Columns: []string{"security_version"}},
		{Name: "idx_sessions_last_validated", Table: "sessions", Columns: []string{"last_validated_at"},
			Partial: &Predicate{Column: "last_validated_at", Op: IsNotNull}},
		{Name: "idx_sessions_risk_score", Table: "sessions", Columns: []string{"risk_score"},
			Partial: &Predicate{Column: "risk_score", Op: GreaterThan0}},
		{Name: "idx_sessions_security_composite", Table: "sessions",
			Columns: []string{"security_version", "risk_score", "last_validated_at"},
			Partial: &Predicate{Column: "security_hash", Op: IsNotNull}},
	},
	Triggers: []Trigger{
		{Name: "sessions_security_hash_trigger", Table: "sessions", Timing: Before, Event: Insert},
		{Name: "sessions_validation_timestamp_trigger", Table: "sessions", Timing: Before, Event: Update},
	},
	Routines: []Routine{
		{Name: "session_security_hash", Kind: Function},
		{Name: "BackfillSessionSecurity", Kind: Procedure},
		{Name: "CleanupExpiredSecureSessions", Kind: Procedure},
		{Name: "UpdateSessionRiskScores", Kind: Procedure},
		{Name: "sessionsec_retire_table", Kind: Procedure},
	},
	Tables: []Table{
		{
			Name: "session_audit_log",
			Columns: []Column{
				{Name: "id", Type: TypeAuditID},
				{Name: "session_id", Type: TypeSessionID, Nullable: true},
				{Name: "action", Type: TypeAction},
				{Name: "details", Type: TypeDetails, Nullable: true},
				{Name: "ip_hash", Type: TypeHash, Nullable: true},
				{Name: "user_agent_hash", Type: TypeHash, Nullable: true},
				{Name: "risk_score", Type: TypeRiskScore, Nullable: true},
				{Name: "created_at", Type: TypeTimestamp, Default: DefaultNow},
			},
			Indexes: []Index{
				{Name: "idx_session_audit_session_id", Table: "session_audit_log", Columns: []string{"session_id"}},
				{Name: "idx_session_audit_action", Table: "session_audit_log", Columns: []string{"action"}},
				{Name: "idx_session_audit_created_at", Table: "session_audit_log", Columns: []string{"created_at"}},
				{Name: "idx_session_audit_risk_score", Table: "session_audit_log", Columns: []string{"risk_score"}},
			},
		},
		{Name: "sessions_archive", MirrorsSessions: true},
	},
	Risk: RiskRule{Column: "risk_score", Min: 0, Max: 100, CleanupThreshold: 50,
		ConstraintName: "sessions_risk_score_range"},
	HashFunction:    "session_security_hash",
	BackfillRoutine: "BackfillSessionSecurity",
	DefaultKeyID:    "migration-default-key",
	RetiredSuffix:   "_retired_",
	RetireHelper:    "sessionsec_retire_table",
}

// Column returns the expected security or base column of sessions with the given name.
func (s Schema) Column(name string) (Column, bool) {
	for _, c := range s.SecurityColumns {
		if c.Name == name {
			return c, true
		}
	}
	for _, c := range s.BaseColumns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
