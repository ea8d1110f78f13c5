package main

import (
	"strings"
	"testing"
)

func TestParseDatabaseRedactsPasswords(t *testing.T) {
	for _, raw := range []string{
		"mysql://app:s3cret-pw@tcp(127.0.0.1:3306)/app",
		"postgres://app:s3cret-pw@127.0.0.1:5432/app?sslmode=disable",
	} {
		_, dsn, shown, err := parseDatabase(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if strings.Contains(shown, "s3cret-pw") {
			t.Errorf("printable form leaks the password: %s", shown)
		}
		if !strings.Contains(dsn, "s3cret-pw") {
			t.Errorf("DSN lost the password: %s", dsn)
		}
	}
	if _, _, _, err := parseDatabase("oracle://u:s3cret-pw@h/db"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("unsupported scheme: %v", err)
	}
	if _, _, _, err := parseDatabase("u:s3cret-pw@h/db"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("no scheme: %v", err)
	}
}
