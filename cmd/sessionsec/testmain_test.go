package main

import (
	"os"
	"testing"

	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestMain ends the run with one line counting the server subtests skipped for want of a server, and
// how to run them (testdb.Main).
func TestMain(m *testing.M) {
	os.Exit(testdb.Main(m))
}
