package schema_test

import (
	"testing"

	"github.com/agui-go/sessionsec/schema"
)

func TestRecognize(t *testing.T) {
	cases := []struct {
		cols []string
		want string
		ok   bool
	}{
		{[]string{"session_id", "user_id", "created_at", "expires_at", "last_accessed_at", "payload"}, "spec", true},
		{[]string{"id", "user_id", "created_at", "last_accessed", "expires_at", "ip_address", "user_agent", "is_active", "data", "metadata"}, "agui", true},
		{[]string{"id", "user_id", "created_at", "last_accessed", "expires_at"}, "agui", true}, // optional roles unmapped
		{[]string{"id", "session_id", "user_id", "created_at", "last_accessed", "last_accessed_at", "expires_at"}, "", false},
		{[]string{"token", "owner"}, "", false},
	}
	for _, c := range cases {
		l, ok := schema.Recognize("sessions", c.cols)
		if ok != c.ok || (ok && l.Name != c.want) {
			t.Errorf("Recognize(%v) = %s, %t; want %s, %t", c.cols, l.Name, ok, c.want, c.ok)
		}
		if ok && c.want == "agui" && len(c.cols) == 5 && (l.Has(schema.RoleIP) || l.Has(schema.RoleActive)) {
			t.Errorf("optional roles the table lacks must be unmapped: %s", l)
		}
	}
}

func TestLayoutCheck(t *testing.T) {
	for _, l := range []schema.Layout{schema.Spec, schema.AGUI, schema.AGUI.WithTable("agui_sessions")} {
		if err := l.Check(); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	for _, l := range []schema.Layout{
		schema.Spec.WithTable("Sessions"),
		schema.Spec.WithTable("a_name_far_too_long_for_the_derived_names"),
		schema.Spec.Map(map[schema.Role]string{schema.RoleKey: ""}),
		schema.Spec.Map(map[schema.Role]string{schema.RoleUser: "session_id"}),
		schema.Spec.Map(map[schema.Role]string{schema.RoleIP: "risk_score"}),
	} {
		if err := l.Check(); err == nil {
			t.Errorf("%s: want an error", l)
		}
	}
}

func TestNamesOnSessionsAreTheRunbooks(t *testing.T) {
	n := schema.NamesFor("sessions")
	if n.Archive != "sessions_archive" || n.InsertTrigger != "sessions_security_hash_trigger" ||
		n.UpdateTrigger != "sessions_validation_timestamp_trigger" || n.Index(schema.Change.Indexes[0]) != "idx_sessions_security_hash" {
		t.Errorf("names on sessions: %+v", n)
	}
	long := schema.NamesFor("abcdefghijklmnopqrstuvwxyz01234")
	for _, name := range []string{long.UpdateFunction, long.SecurityCopy + "20261202093000", long.Index(schema.Change.Indexes[6])} {
		if len(name) > 63 {
			t.Errorf("%s is %d bytes: over PostgreSQL's 63", name, len(name))
		}
	}
}
