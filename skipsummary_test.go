package sessionsec_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec/internal/testdb"
)

// serverFreeEnv is the environment with no server configured and no CI flag.
func serverFreeEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SESSIONSEC_MYSQL_DSN", "SESSIONSEC_MARIADB_DSN", "SESSIONSEC_POSTGRES_DSN", "SESSIONSEC_SERVERS",
			"SESSIONSEC_REQUIRE_SERVERS", "CI":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// The test binary, run with no server configured, ends with one line counting the server subtests it
// skipped and naming the variables that run them; under CI=true or SESSIONSEC_REQUIRE_SERVERS=1 the same
// subtests fail instead (a CI must not count a skip as a pass).
func TestSkippedServersAreSummarised(t *testing.T) {
	run := func(env ...string) (string, error) {
		// -test.v: Main prints to standard output (without it, to the terminal where there is one).
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipSummaryProbe$", "-test.v=true", "-test.count=1")
		cmd.Env = serverFreeEnv(append(env, "SESSIONSEC_SKIP_PROBE=1")...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run()
	if err != nil {
		t.Fatalf("with no server the probe must pass, skipping: %v\n%s", err, out)
	}
	var summary []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "SKIPPED") {
			summary = append(summary, line)
		}
	}
	if len(summary) != 1 {
		t.Fatalf("want exactly one summary line, got %d:\n%s", len(summary), out)
	}
	for _, want := range []string{"github.com/agui-go/sessionsec: SKIPPED 3 server subtests", "SESSIONSEC_MYSQL_DSN='", "SESSIONSEC_MARIADB_DSN='",
		"SESSIONSEC_POSTGRES_DSN='postgres://", "scripts/test.sh"} {
		if !strings.Contains(summary[0], want) {
			t.Errorf("the summary line lacks %q:\n%s", want, summary[0])
		}
	}
	if !strings.Contains(out, "--- PASS: TestSkipSummaryProbe/sqlite") {
		t.Errorf("SQLite needs no server and must run:\n%s", out)
	}

	for _, env := range []string{"CI=true", "SESSIONSEC_REQUIRE_SERVERS=1"} {
		out, err := run(env)
		if err == nil || strings.Contains(out, "SKIPPED") || strings.Count(out, "--- FAIL: TestSkipSummaryProbe/") != 3 {
			t.Errorf("with %s the three server subtests must fail, not skip (exit %v):\n%s", env, err, out)
		}
	}
}

// TestSkipSummaryProbe is the subject of TestSkippedServersAreSummarised, run in a child process.
func TestSkipSummaryProbe(t *testing.T) {
	if os.Getenv("SESSIONSEC_SKIP_PROBE") == "" {
		t.Skip("skipping: run by TestSkippedServersAreSummarised in a child process with no server configured")
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if err := d.DB.Ping(); err != nil {
			t.Fatal(err)
		}
	})
}
