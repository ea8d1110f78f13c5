package sqlite

import (
	"testing"
	"time"
)

// TestEpoch: every text form the common Go SQLite drivers write for a time.Time reads back as its instant.
func TestEpoch(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	instant := time.Date(2026, 2, 14, 23, 30, 15, 999_000_000, cet)
	want := instant.Unix()
	for _, in := range []any{
		instant.String(), // modernc.org/sqlite's default
		instant.String() + " m=+0.001766601",
		instant.Format("2006-01-02 15:04:05.999999999-07:00"), // mattn/go-sqlite3, modernc "sqlite"
		instant.Format("2006-01-02T15:04:05.999999999Z07:00"),
		instant.UTC().Format("2006-01-02 15:04:05"), // CURRENT_TIMESTAMP-style UTC wall clock
		[]byte(instant.UTC().Format("2006-01-02 15:04:05.000")),
		want,
		float64(want) + 0.5,
		2440587.5 + float64(want)/86400, // a Julian day number
	} {
		got, ok := Epoch(in)
		if !ok || (got != want && got != want-1) { // a Julian day's float loses sub-second precision
			t.Errorf("Epoch(%v) = %d, %t; want %d", in, got, ok, want)
		}
	}
	if _, ok := Epoch("not a time"); ok {
		t.Error("garbage read as a time")
	}
	if got, _ := Epoch("1969-12-31 23:59:59.5"); got != -1 {
		t.Errorf("pre-1970: %d", got)
	}
}
