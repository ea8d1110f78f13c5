package sessionsectest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/sessionsectest"
)

// README:start
func TestMain(m *testing.M) {
	code := m.Run()
	sessionsectest.Terminate() // stops the shared containers
	os.Exit(code)
}

func TestLogin(t *testing.T) {
	db := sessionsectest.MySQL(t) // or MariaDB(t), Postgres(t): a fresh database, migrated
	if _, err := db.Exec("INSERT INTO sessions (session_id, user_id) VALUES ('s-1', 'u-1')"); err != nil {
		t.Fatal(err)
	}
}

func TestStartUp(t *testing.T) {
	db := sessionsectest.Postgres(t, sessionsectest.WithoutMigrations())
	sessionsectest.CheckReplicas(t, db, 8, sessionsec.WithTable("agui_sessions")) // 8 replicas at once
}

// README:end

// TestREADME keeps the README's snippet for this package the code above.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, snippet, _ := strings.Cut(string(src), "// README:start\n")
	snippet, _, _ = strings.Cut(snippet, "\n// README:end")
	if !strings.Contains(string(readme), "```go\n"+snippet+"```\n") {
		t.Errorf("README.md's sessionsectest snippet differs from readme_test.go; paste:\n%s", snippet)
	}
}
