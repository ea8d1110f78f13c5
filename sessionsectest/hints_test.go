package sessionsectest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childEnv is the environment without the variables the hints are about, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case envRyukDisabled, envHostOverride, "DOCKER_HOST", EnvRequireDocker, EnvMySQLImage:
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runLogin runs the README's TestLogin (a MySQL database) in a child test binary.
func runLogin(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLogin$", "-test.count=1", "-test.v=true")
	cmd.Env = childEnv(env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("TestLogin passed, want it to fail:\n%s", out)
	}
	return string(out)
}

// When no Docker engine answers, the message names the testcontainers-go variables that fix the usual
// causes, with what to set them to; once they are set, it says so instead. (testcontainers-go falls back
// to the default socket whatever DOCKER_HOST says, so a child process cannot be made to find no engine
// where one runs: the message is checked directly.)
func TestNoDockerNamesTheSettings(t *testing.T) {
	t.Setenv(envRyukDisabled, "")
	t.Setenv(envHostOverride, "")
	msg := noDocker(errors.New("dial unix /var/run/docker.sock: connect: no such file or directory"))
	for _, want := range []string{"no Docker engine answers (dial unix", "DOCKER_HOST", envRyukDisabled + "=true", envHostOverride + "=127.0.0.1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	t.Setenv(envRyukDisabled, "true")
	t.Setenv(envHostOverride, "10.0.0.7")
	msg = noDocker(errors.New("x"))
	for _, want := range []string{envRyukDisabled + "=true is set", envHostOverride + "=10.0.0.7 is set"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
}

// When a container cannot be started (here: its image cannot be had), the failure names the same
// variables, saying which are set and to what.
func TestStartFailureNamesTheSettings(t *testing.T) {
	skipWithoutDocker(t)
	out := runLogin(t, EnvMySQLImage+"=sessionsec/no-such-image:0", envRyukDisabled+"=true", envHostOverride+"=127.0.0.1")
	for _, want := range []string{"starting mysql (sessionsec/no-such-image:0)", envRyukDisabled + "=true is set", envHostOverride + "=127.0.0.1 is set"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure lacks %q:\n%s", want, out)
		}
	}
}
