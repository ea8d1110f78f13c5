package sessionsec_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// The test binary doubles as a "replica process": with SESSIONSEC_CHILD set it runs Migrate once and
// exits, optionally SIGKILLing itself at a chosen step and phase. That gives real separate processes
// and real crashes without a second program to build. Otherwise it runs the tests, and ends with one line
// counting the server subtests skipped for want of a server (testdb.Main).
func TestMain(m *testing.M) {
	if os.Getenv("SESSIONSEC_CHILD") != "" {
		os.Exit(childMain())
	}
	os.Exit(testdb.Main(m))
}

func childMain() int {
	db, err := sql.Open(os.Getenv("SESSIONSEC_CHILD_DRIVER"), os.Getenv("SESSIONSEC_CHILD_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer db.Close()
	killVersion, _ := strconv.Atoi(os.Getenv("SESSIONSEC_KILL_VERSION"))
	killPhase := os.Getenv("SESSIONSEC_KILL_PHASE")
	killDelay, _ := time.ParseDuration(os.Getenv("SESSIONSEC_KILL_DELAY"))
	hook := func(version uint, phase string) {
		if int(version) != killVersion {
			return
		}
		switch {
		case killPhase == "mid" && (phase == "before-up" || phase == "before-down"):
			go func() {
				time.Sleep(killDelay)
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}()
		case phase == killPhase:
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Hour)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts := []sessionsec.Option{sessionsec.WithStepHook(hook)}
	if ttl, err := time.ParseDuration(os.Getenv("SESSIONSEC_CHILD_LEASE_TTL")); err == nil {
		opts = append(opts, sessionsec.WithLeaseTTL(ttl))
	}
	if os.Getenv("SESSIONSEC_CHILD_OP") == "rollback" {
		if _, err := rollback(ctx, db, sessionsec.WithStepHook(hook)); err != nil {
			fmt.Fprintln(os.Stderr, "child Rollback:", err)
			return 1
		}
		return 0
	}
	if err := sessionsec.Migrate(ctx, db, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "child Migrate:", err)
		return 1
	}
	return 0
}

// childCmd prepares a replica process against d.
func childCmd(d *testdb.DB, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SESSIONSEC_CHILD=1", "SESSIONSEC_CHILD_DRIVER="+d.DriverName, "SESSIONSEC_CHILD_DSN="+d.DSN)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// killedBySignal reports whether the process ended by SIGKILL.
func killedBySignal(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
