package schema_test

import (
	"testing"
	"time"

	"github.com/agui-go/sessionsec/schema"
)

func ptr[T any](v T) *T { return &v }

// The expected digests were computed outside Go: printf '<canonical input>' | sha256sum.
func TestSecurityHashKnownAnswers(t *testing.T) {
	cases := []struct {
		name     string
		id, user *string
		epoch    *int64
		want     string
	}{
		{"runbook insert, NULL created_at", ptr("test-session"), ptr("test-user"), nil, "fe02d0ed941f0e2d8bd37f6b55c23da58a761004b1b8027b3727ee008d263736"},
		{"UTF-8 byte lengths, NULL user", ptr("séss-1"), nil, ptr(int64(1767323045)), "2226250d26a5ead9239cdd6e90e0128eaa46be1a56f483c51c82417b491222fe"},
		{"empty string is not NULL, pre-1970", ptr("x"), ptr(""), ptr(int64(-86400)), "ef394d2d1aa59396979e1d5263d78459db9d4a6f5879e2acd33f633d33a38a6d"},
	}
	for _, c := range cases {
		if got := schema.SecurityHash(c.id, c.user, c.epoch); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestEpochOf(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	wall := time.Date(2026, 1, 2, 3, 4, 5, 900_000_000, berlin)
	if got, want := schema.EpochOf(wall, true), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix(); got != want {
		t.Errorf("wall clock as UTC: %d, want %d", got, want)
	}
	if got, want := schema.EpochOf(wall, false), wall.Unix(); got != want {
		t.Errorf("instant: %d, want %d", got, want)
	}
	if got := schema.EpochOf(time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC), true); got != -1 {
		t.Errorf("floor before 1970: %d, want -1", got)
	}
}

// TestCanonicalIP: the forms MySQL's INET6_NTOA(INET6_ATON(..)) and PostgreSQL's host(..::inet) write
// (checked on both servers by TestAGUISDKStore), IPv4-mapped addresses counted as IPv4.
func TestCanonicalIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":           "203.0.113.7",
		" 10.0.0.1 ":            "10.0.0.1",
		"01.2.3.4":              "1.2.3.4",
		"2001:0DB8:0:0:0:0:0:2": "2001:db8::2",
		"2001:db8:0:0:1:0:0:1":  "2001:db8::1:0:0:1",
		"1:0:0:2:0:0:0:3":       "1:0:0:2::3",
		"2001:db8:0:1:1:1:1:1":  "2001:db8:0:1:1:1:1:1",
		"::ffff:198.51.100.4":   "198.51.100.4",
		"::1.2.3.4":             "::1.2.3.4",
		"FE80::1":               "fe80::1",
		"::":                    "::",
		"::1":                   "::1",
		"192.0.2.1/24":          "192.0.2.1",
	} {
		if got, ok := schema.CanonicalIP(in); !ok || got != want {
			t.Errorf("CanonicalIP(%q) = %q, %t; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "not-an-ip", "256.1.1.1", "1.2.3", "fe80::1%eth0", "1.2.3.4.5"} {
		if got, ok := schema.CanonicalIP(bad); ok {
			t.Errorf("CanonicalIP(%q) = %q, want no address", bad, got)
		}
	}
	// printf '203.0.113.7' | sha256sum
	if h, _ := schema.IPHash("203.0.113.7"); h != "fec52565aa0cf18f57d7cf5b3ac728503b8992d2d6f7d46da1d1201090902b02" {
		t.Errorf("IPHash: %s", h)
	}
}
