package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// secretForms embeds a password in every form a database URL or DSN takes.
func secretForms(pw string) []string {
	esc := url.QueryEscape(pw)
	return []string{
		"mysql://app:" + pw + "@tcp(127.0.0.1:3306)/app",
		"mysql://app:" + pw + "@127.0.0.1:3306/app?parseTime=true",
		"app:" + pw + "@tcp(db:3306)/app",
		"postgres://app:" + pw + "@127.0.0.1:5432/app?sslmode=disable",
		"postgres://app:" + esc + "@h/app",
		"postgres://app@h/app?sslmode=disable&password=" + esc,
		"postgres://app@h/app?password=" + esc + "&sslmode=disable",
		"host=h port=5432 user=app password=" + pw + " dbname=app",
		"host=h password='" + strings.ReplaceAll(pw, "'", `\'`) + "' dbname=app",
		"user=app password = " + pw,
		"sqlserver://app:" + pw + "@h?database=x",
	}
}

func TestRedact(t *testing.T) {
	for _, pw := range []string{"Sup3rS3cret", "TopSecret99", "p@ss:w/rd?#x", "with space"} {
		for _, form := range secretForms(pw) {
			if strings.ContainsAny(pw, " ") && !strings.Contains(form, "'") && !strings.Contains(form, "%") && !strings.Contains(form, "+") {
				continue // an unquoted space ends a keyword value: not a form a driver accepts
			}
			got := Redact(form)
			for _, secret := range []string{pw, url.QueryEscape(pw)} {
				if strings.Contains(got, secret) {
					t.Errorf("Redact(%q) = %q: the password is still there", form, got)
				}
			}
		}
	}
	if got := Redact("postgres://app@h:5432/app?sslmode=disable"); got != "postgres://app@h:5432/app?sslmode=disable" {
		t.Errorf("a URL without a password changed: %s", got)
	}
}

// FuzzRedact: no password of at least four characters survives Redact in any form.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"Sup3rS3cret", "p@ss:w/rd?x", "a&b=c", "'quoted'", "ümlaut-pw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 4 || strings.ContainsAny(pw, "\x00'\\&;=") || strings.ContainsFunc(pw, unicode.IsSpace) || strings.Trim(pw, "x") == "" {
			return // not a password a driver takes unquoted in every one of these forms (or the marker itself)
		}
		for _, form := range secretForms(pw) {
			got := Redact(form)
			rest := strings.Replace(form, pw, "", 1)
			if strings.Contains(got, pw) && !strings.Contains(rest, pw) && !strings.Contains(Redact(rest), pw) {
				t.Fatalf("Redact(%q) = %q: the password is still there", form, got)
			}
		}
	})
}

func TestParseDatabase(t *testing.T) {
	tg, err := parseDatabase("mysql://root:pw@127.0.0.1:3307/app?x-migrations-table=mine&x-statement-timeout=5000", "rw")
	if err != nil || !strings.Contains(tg.dsn, "tcp(127.0.0.1:3307)") || strings.Contains(tg.dsn, "x-") || tg.migrationsTable != "mine" {
		t.Fatalf("mysql host:port form: %+v %v", tg, err)
	}
	tg, err = parseDatabase("postgres://u:pw@h/app?sslmode=disable&x-migrations-table=mine&x-multi-statement=false", "rw")
	if err != nil || strings.Contains(tg.dsn, "x-") || tg.migrationsTable != "mine" || strings.Contains(tg.shown, "pw") {
		t.Fatalf("postgres: %+v %v", tg, err)
	}
	for mode, want := range map[string]string{"rwc": "journal_mode", "ro": "mode=ro"} {
		tg, err = parseDatabase("sqlite://x.db", mode)
		if err != nil || !strings.Contains(tg.dsn, want) {
			t.Fatalf("sqlite %s: %+v %v", mode, tg, err)
		}
	}
	if tg, _ := parseDatabase("sqlite://x.db", "ro"); strings.Contains(tg.dsn, "journal_mode") {
		t.Fatal("a read-only command must not switch the file to WAL")
	}
	for _, bad := range []string{"oracle://u:s3cret-pw@h/db", "u:s3cret-pw@h/db", "sqlite://"} {
		if _, err := parseDatabase(bad, "rw"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the command once for the tests that run it as an operator would.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sessionsec-cmd")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sessionsec")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = err
			t.Log(string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type ran struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, dir string, env []string, stdin string, args ...string) ran {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return ran{code, out.String(), errb.String()}
}

func jsonOf(t *testing.T, r ran) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return m
}

// TestCommandOnEveryDialect runs the built command as an operator would: each command, its exit code,
// its JSON, on every server.
func TestCommandOnEveryDialect(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		dir := t.TempDir()
		db := []string{"-database", d.CLIURL}
		must := func(code int, args ...string) ran {
			t.Helper()
			r := runCmd(t, dir, nil, "", args...)
			if r.code != code {
				t.Fatalf("sessionsec %v: exit %d, want %d\n%s%s", args, r.code, code, r.stdout, r.stderr)
			}
			return r
		}
		if d.Server.Dialect != "sqlite" {
			r := must(0, append(db, "preflight")...)
			requireOut(t, r.stdout, "no problems")
			pl := jsonOf(t, must(0, append(db, "plan", "-json")...))["plan"].(map[string]any)
			if len(pl["steps"].([]any)) != 21 || len(pl["problems"].([]any)) != 0 {
				t.Fatalf("plan: %v", pl)
			}
		}
		r := must(0, append([]string{"up", "--json"}, db...)...) // flags after the command
		out := jsonOf(t, r)
		if out["ok"] != true || out["report"] == nil {
			t.Fatalf("up --json: %v", out)
		}
		must(0, append(db, "validate")...)
		requireOut(t, must(0, append(db, "plan")...).stdout, "0 step(s) pending")
		st := jsonOf(t, must(0, append(db, "status", "-json")...))
		if st["status"].(map[string]any)["version"].(float64) < 21 {
			t.Fatalf("status: %v", st)
		}
		// The maintenance tasks, each with its JSON result.
		mustExec(t, d, "INSERT INTO sessions (session_id, user_id, created_at, last_accessed_at, expires_at) VALUES ('old', 'u0', '2020-01-01 00:00:00', '2020-01-01 00:00:00', '2020-01-02 00:00:00')")
		m := jsonOf(t, must(0, append(db, "metrics", "-json")...))["metrics"].(map[string]any)
		if m["sessions"].(float64) != 1 || m["expired"].(float64) != 1 {
			t.Fatalf("metrics: %v", m)
		}
		task := func(args ...string) map[string]any {
			t.Helper()
			return jsonOf(t, must(0, append(append(db, args...), "-json")...))["task"].(map[string]any)
		}
		if a := task("archive", "-older-than", "365d", "-batch", "10"); a["task"] != "archive" || a["rows"].(float64) != 1 {
			t.Fatalf("archive: %v", a)
		}
		for _, name := range []string{"cleanup", "risk", "prune-audit"} {
			if r := task(name); r["task"] != name || r["rows"].(float64) != 0 {
				t.Fatalf("%s: %v", name, r)
			}
		}
		r = must(2, append(db, "cleanup", "-older-than", "1d")...) // an option cleanup has no use for
		requireOut(t, r.stderr, "WithOlderThan")
		r = must(0, append(db, "metrics")...)
		requireOut(t, r.stdout, "1 archived")
		// rollback asks; with no answer it does nothing.
		r = must(2, append(db, "rollback")...)
		requireOut(t, r.stderr, "-yes")
		must(0, append(db, "validate")...)
		mustExec(t, d, "INSERT INTO sessions (session_id, user_id) VALUES ('s1', 'u1')")
		rb := jsonOf(t, must(0, append(db, "rollback", "-yes", "-json")...))
		kept := rb["rollback"].(map[string]any)["kept"]
		if kept == nil || len(kept.([]any)) == 0 {
			t.Fatalf("rollback kept nothing: %v", rb)
		}
		r = must(1, append(db, "validate")...) // rolled back: not the migrated schema
		requireOut(t, r.stdout, "problem")
		if _, err := os.Stat(filepath.Join(dir, "sessionsec.db")); err == nil {
			t.Fatal("a command with -database created the embedded default file")
		}
	})
}

func mustExec(t *testing.T, d *testdb.DB, q string) {
	t.Helper()
	if _, err := d.DB.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func requireOut(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("output does not mention %q:\n%s", want, got)
	}
}

// TestWrongTargets: the command never falls back to the embedded default when a database was meant,
// never creates a SQLite file outside up, and says exactly what is wrong.
func TestWrongTargets(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		says string
	}{
		{"empty -database", nil, []string{"-database", "", "up"}, 2, "-database is empty"},
		{"empty variable", []string{"SESSIONSEC_DATABASE="}, []string{"rollback", "-yes"}, 2, "SESSIONSEC_DATABASE is set but empty"},
		{"unknown command", nil, []string{"migrate"}, 2, `unknown command "migrate"`},
		{"stray argument", nil, []string{"status", "extra"}, 2, `unexpected argument "extra"`},
		{"missing sqlite file", nil, []string{"status", "-database", "sqlite://" + filepath.Join(dir, "typo.db")}, 3, "no such database file"},
		{"missing sqlite file, validate", nil, []string{"validate", "-database", "sqlite://" + filepath.Join(dir, "typo.db")}, 3, "only up creates one"},
		{"unreachable server", nil, []string{"-database", "mysql://root:pw@tcp(127.0.0.1:1)/x", "status"}, 3, "no usable database"},
		{"bad layout", nil, []string{"-layout", "nope", "status"}, 2, "want spec or agui"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(t, dir, c.env, "", c.args...)
			if r.code != c.code || !strings.Contains(r.stderr+r.stdout, c.says) {
				t.Fatalf("exit %d (want %d), output:\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, ":pw@") {
				t.Fatalf("a password reached the output: %s", r.stderr)
			}
		})
	}
	for _, f := range []string{"sessionsec.db", "typo.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Fatalf("%s was created by a command that must not create files", f)
		}
	}
	r := runCmd(t, dir, nil, "", "-h")
	for _, want := range []string{"rollback", "SESSIONSEC_DATABASE", "Exit codes"} {
		requireOut(t, r.stderr, want)
	}
	// <command> -h describes that command: its own flags and the global ones, not the others'.
	r = runCmd(t, dir, nil, "", "archive", "-h")
	if r.code != 0 {
		t.Fatalf("archive -h: exit %d", r.code)
	}
	for _, want := range []string{"usage: sessionsec [flags] archive", "-older-than", "-database", "Exit codes"} {
		requireOut(t, r.stderr, want)
	}
	if strings.Contains(r.stderr, "-yes") || strings.Contains(r.stderr, "-target") || strings.Contains(r.stderr, "Commands:") {
		t.Fatalf("archive -h describes other commands:\n%s", r.stderr)
	}
	// The default, when nothing is given at all: the embedded SQLite file, created by up only.
	if r := runCmd(t, dir, nil, "", "up"); r.code != 0 {
		t.Fatalf("up on the default: %d\n%s", r.code, r.stderr)
	}
	if r := runCmd(t, dir, nil, "", "validate"); r.code != 0 {
		t.Fatalf("validate on the default: %d\n%s", r.code, r.stderr)
	}
}

// TestGenerate writes a folder for a custom table and mapping without a database.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, dir, nil, "", "generate", "-dialect", "mysql", "-layout", "agui", "-table", "agui_sessions", "-out", filepath.Join(dir, "out"))
	if r.code != 0 {
		t.Fatalf("generate: %d\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "000007_create_insert_trigger.up.sql"))
	if err != nil || !strings.Contains(string(b), "`agui_sessions_security_hash_trigger`") {
		t.Fatalf("generated trigger: %v\n%s", err, b)
	}
}

// TestREADMEReference: the README's command reference names every command and every field of the
// --json output (the fields are the stable interface; a new one must be documented).
func TestREADMEReference(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, ref, ok := strings.Cut(readme, "### The command\n")
	if !ok {
		t.Fatal(`README.md has no "### The command" section`)
	}
	ref, _, _ = strings.Cut(ref, "\n## ")
	for _, c := range commands {
		requireOut(t, ref, "`"+c.name+"`")
	}
	full := output{Problems: []sessionsec.Problem{{}}, Report: &sessionsec.Report{Problems: []sessionsec.Mismatch{{Fix: "x"}}},
		Status: &sessionsec.MigrationStatus{Applied: []sessionsec.Step{{}}}, Rollback: &sessionsec.RollbackResult{},
		Task: &sessionsec.MaintenanceResult{Cutoff: time.Now()}, Metrics: &sessionsec.Metrics{},
		Plan: &sessionsec.Plan{Steps: []sessionsec.PlannedStep{{Rows: 1, Batches: 1, Estimate: 1}}},
		Seal: &sessionsec.SealResult{TamperedKeys: []string{"k"}}, Verify: &sessionsec.VerifyResult{TamperedKeys: []string{"k"}, ByKey: map[string]int64{}},
		Files: []string{"f"}, Message: "m", Error: "e"}
	raw, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var keys func(v any)
	keys = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				requireOut(t, ref, "`"+k+"`")
				keys(sub)
			}
		case []any:
			for _, sub := range v {
				keys(sub)
			}
		}
	}
	var m any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	keys(m)
}
