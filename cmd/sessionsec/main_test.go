package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/go-sql-driver/mysql"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	"github.com/lib/pq"

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
	tg, err := parseDatabase("mysql://root:pw@tcp(127.0.0.1:3307)/app?x-migrations-table=mine&x-statement-timeout=5000", "rw")
	if err != nil || !strings.Contains(tg.dsn, "tcp(127.0.0.1:3307)") || strings.Contains(tg.dsn, "x-") || tg.migrationsTable != "mine" {
		t.Fatalf("mysql: %+v %v", tg, err)
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
			if len(pl["steps"].([]any)) != 22 || len(pl["problems"].([]any)) != 0 {
				t.Fatalf("plan: %v", pl)
			}
		}
		r := must(0, append([]string{"up", "--json"}, db...)...) // flags after the command
		out := jsonOf(t, r)
		if out["ok"] != true || out["report"] == nil {
			t.Fatalf("up --json: %v", out)
		}
		if strings.Contains(r.stderr, "adapted") || strings.Contains(r.stderr, "replaced") {
			t.Fatalf("a fresh up claims it adopted or replaced something:\n%s", r.stderr)
		}
		// up says where it started, where it ended and what it ran; a second up, that nothing was pending.
		up := out["up"].(map[string]any)
		if up["from"].(float64) != 0 || up["to"].(float64) != 22 || len(up["steps"].([]any)) != 22 || up["steps"].([]any)[9] != "000010_backfill" {
			t.Fatalf("up --json: %v", up)
		}
		if q := out["report"].(map[string]any)["queries"].(float64); q < 3 {
			t.Fatalf("report.queries = %v: Validate sent more statements than that", q)
		}
		r = must(0, append(db, "up", "-json")...)
		if up := jsonOf(t, r)["up"].(map[string]any); up["from"].(float64) != 22 || up["to"].(float64) != 22 || len(up["steps"].([]any)) != 0 {
			t.Fatalf("a second up --json: %v", up)
		}
		noNull(t, r.stdout)
		r = must(0, append(db, "up")...)
		requireOut(t, r.stdout, "up: nothing was pending (version 22)")
		requireOut(t, r.stderr, "nothing pending")
		if strings.Contains(r.stderr, "adapted") || strings.Contains(r.stderr, "replaced") {
			t.Fatalf("a no-op up claims work:\n%s", r.stderr)
		}
		must(0, append(db, "validate")...)
		requireOut(t, must(0, append(db, "plan")...).stdout, "0 step(s) pending")
		r = must(0, append(db, "status", "-json")...)
		noNull(t, r.stdout) // nothing pending: [] not null
		st := jsonOf(t, r)
		if st["status"].(map[string]any)["version"].(float64) < 22 {
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
		r = must(0, append(db, "rollback", "-yes", "-json")...)
		noNull(t, r.stdout)
		rb := jsonOf(t, r)
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

// noNull fails on a null in -json output: lists are [] when empty, objects are left out.
func noNull(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "null") {
		t.Fatalf("-json output has a null:\n%s", out)
	}
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
		{"bad columns", nil, []string{"-columns", "owner=x", "status"}, 2, "is not role=column"},
		{"bad lock", nil, []string{"-lock", "galera", "status"}, 2, "want auto, advisory or lease"},
		{"mysql host:port", nil, []string{"-database", "mysql://root:pw@127.0.0.1:3306/x", "status"}, 2, "tcp(host:port)"},
		{"bad escape in a password", nil, []string{"-database", "mysql://root:pw%zz@tcp(127.0.0.1:3306)/x", "status"}, 2, "percent-encode"},
		{"unreachable mysql names what was tried", nil, []string{"-database", "mysql://root:pw@tcp(127.0.0.1:1)/x", "status"}, 3, `tried database "x" on 127.0.0.1:1 as user "root"`},
		{"unreachable postgres names what was tried", nil, []string{"-database", "postgres://bob:pw@127.0.0.1:1/app?sslmode=disable", "status"}, 3, `tried database "app" on 127.0.0.1:1 as user "bob"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(t, dir, c.env, "", c.args...)
			if r.code != c.code || !strings.Contains(r.stderr+r.stdout, c.says) {
				t.Fatalf("exit %d (want %d), output:\n%s%s", r.code, c.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, ":pw@") || strings.Contains(r.stderr, "pw%zz") {
				t.Fatalf("a password reached the output: %s", r.stderr)
			}
			// With -json the same failure is one JSON object on stdout, whenever it is caught.
			r = runCmd(t, dir, c.env, "", append(c.args, "-json")...)
			out := jsonOf(t, r)
			msg, _ := out["error"].(string)
			if r.code != c.code || out["ok"] != false || out["exit"].(float64) != float64(c.code) || !strings.Contains(msg, c.says) {
				t.Fatalf("-json: exit %d, %v", r.code, out)
			}
			if strings.Contains(r.stdout, ":pw@") || strings.Contains(r.stdout, "pw%zz") {
				t.Fatalf("a password reached the JSON: %s", r.stdout)
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
	// The rollback prompt, answered without a terminal (no echoed Enter), ends its line before the next
	// message.
	for _, answer := range []string{"", "no", "no\n"} {
		r := runCmd(t, dir, nil, answer, "rollback")
		if r.code != 2 || !strings.Contains(r.stderr, "Type yes to go on: \n") {
			t.Fatalf("rollback answered %q: exit %d, the prompt's line is not ended:\n%s", answer, r.code, r.stderr)
		}
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

// TestParseDatabaseLikeGolangMigrate: mysql:// URLs are read as golang-migrate's mysql driver reads
// them. Each case is also handed to that driver (its Open parses, then dials 127.0.0.1:1, which refuses):
// a URL it accepts fails on the dial, one it rejects fails before it - the command must agree.
func TestParseDatabaseLikeGolangMigrate(t *testing.T) {
	const addr = "127.0.0.1:1"
	cases := []struct {
		name, url    string
		user, passwd string // want, when accepted
		table        string
		rejected     bool
	}{
		{name: "percent-encoded password", url: "mysql://app:p%40s%2Fs%3Fw%25d%3A@tcp(" + addr + ")/app", user: "app", passwd: "p@s/s?w%d:"},
		{name: "encoded user", url: "mysql://a%40pp:pw@tcp(" + addr + ")/app", user: "a@pp", passwd: "pw"},
		{name: "raw @ then / in the password", url: "mysql://app:p@s/s@tcp(" + addr + ")/app", user: "app", passwd: "p@s/s"},
		{name: "raw @ then ? in the password", url: "mysql://app:p@s?s@tcp(" + addr + ")/app", user: "app", passwd: "p@s?s"},
		{name: "raw : in the password", url: "mysql://app:a:b@tcp(" + addr + ")/app", user: "app", passwd: "a:b"},
		{name: "raw + is a space", url: "mysql://app:a+b@tcp(" + addr + ")/app", user: "app", passwd: "a b"},
		{name: "x- parameters", url: "mysql://app:pw@tcp(" + addr + ")/app?x-migrations-table=mine&x-statement-timeout=5000", user: "app", passwd: "pw", table: "mine"},
		{name: "no password", url: "mysql://app@tcp(" + addr + ")/app", user: "app"},
		{name: "bad escape in the password", url: "mysql://app:s3cr%zzet@tcp(" + addr + ")/app", rejected: true},
		{name: "host:port without tcp()", url: "mysql://app:s3cret@" + addr + "/app", rejected: true},
		{name: "no database part", url: "mysql://app:s3cret@tcp(" + addr + ")", rejected: true},
		{name: "raw / in a parameter", url: "mysql://app:s3cret@tcp(" + addr + ")/app?x-migrations-table=a/b", rejected: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, gmErr := (&migratemysql.Mysql{}).Open(c.url)
			var opErr *net.OpError
			if gmAccepts := errors.As(gmErr, &opErr); gmAccepts == c.rejected {
				t.Fatalf("golang-migrate's mysql driver disagrees with the case (rejected=%v): %v", c.rejected, gmErr)
			}
			tg, err := parseDatabase(c.url, "rw")
			if c.rejected {
				var ue *urlError
				if err == nil || !errors.Is(err, errDatabaseURL) || !errors.Is(err, errUsage) || !errors.As(err, &ue) {
					t.Fatalf("accepted, or not a typed error: %+v %v", tg, err)
				}
				if strings.Contains(err.Error(), "s3cr") {
					t.Fatalf("the password is in the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := mysql.ParseDSN(tg.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.User != c.user || cfg.Passwd != c.passwd || cfg.Addr != addr || cfg.DBName != "app" || !cfg.ParseTime {
				t.Fatalf("got user %q password %q addr %q db %q parseTime %v", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName, cfg.ParseTime)
			}
			if tg.migrationsTable != c.table || strings.Contains(tg.dsn, "x-") {
				t.Fatalf("x- parameters: table %q, dsn keeps them: %v", tg.migrationsTable, strings.Contains(tg.dsn, "x-"))
			}
			if c.passwd != "" && strings.Contains(tg.shown, c.passwd) {
				t.Fatalf("shown form keeps the password: %s", tg.shown)
			}
		})
	}
}

// TestParseDatabaseRejects: postgres:// and sqlite:// URLs that golang-migrate's drivers cannot parse
// (net/url) are refused with a typed error that does not show the password.
func TestParseDatabaseRejects(t *testing.T) {
	for _, raw := range []string{
		"postgres://app:s3cr%zzet@h/app",
		"postgres://app:s3cret@h:port/app",
		"postgresql://app:s3cr et@h/app",
		"sqlite://my file.db?_auth_pass=s3cret",
		"sqlite://",
		"oracle://app:s3cret@h/app",
		"app:s3cret@h/app",
	} {
		tg, err := parseDatabase(raw, "rw")
		if err == nil || !errors.Is(err, errDatabaseURL) {
			t.Errorf("%s: %+v %v", Redact(raw), tg, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
	// What net/url reads, golang-migrate reads: a percent-encoded password reaches lib/pq as the URL has it.
	tg, err := parseDatabase("postgres://app:p%40s%2Fs%3Fw%25d@h:5432/app?sslmode=disable&x-migrations-table=t", "rw")
	if err != nil || tg.user != "app" || tg.name != "app" || tg.host != "h:5432" || tg.migrationsTable != "t" || strings.Contains(tg.shown, "p%40s") {
		t.Fatalf("%+v %v", tg, err)
	}
	conn, err := pq.ParseURL(tg.dsn) // lib/pq's own reading of the DSN it is given
	if err != nil || !strings.Contains(conn, `password='p@s/s?w%d'`) || !strings.Contains(conn, "user='app'") {
		t.Fatalf("lib/pq reads %q (%v)", conn, err)
	}
}

// newUser creates a user of the test database with password pw and the given privileges on it
// (MySQL: on the database's tables and routines; PostgreSQL: on the schema public), and returns its
// name and the -database URL with the password percent-encoded, right and wrong.
func newUser(t *testing.T, d *testdb.DB, pw, grant string) (user, good, bad string) {
	t.Helper()
	user = "cmd_" + strings.ToLower(strings.ReplaceAll(filepath.Base(d.Name), "-", "_"))
	if len(user) > 32 {
		user = user[:32]
	}
	switch d.Server.Dialect {
	case "mysql":
		mustExec(t, d, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+pw+"'")
		t.Cleanup(func() { _, _ = d.DB.Exec("DROP USER '" + user + "'@'%'") })
		mustExec(t, d, "GRANT "+grant+" ON `"+d.Name+"`.* TO '"+user+"'@'%'")
		_, rest, _ := strings.Cut(d.CLIURL, "@tcp(")
		good = "mysql://" + user + ":" + url.QueryEscape(pw) + "@tcp(" + rest
		bad = "mysql://" + user + ":" + url.QueryEscape(pw+"x") + "@tcp(" + rest
	case "postgres":
		mustExec(t, d, "CREATE ROLE "+user+" LOGIN PASSWORD '"+pw+"'")
		t.Cleanup(func() { _, _ = d.DB.Exec("DROP OWNED BY " + user); _, _ = d.DB.Exec("DROP ROLE " + user) })
		if grant == "ALL" {
			mustExec(t, d, "GRANT ALL ON SCHEMA public TO "+user)
		} else {
			mustExec(t, d, "GRANT "+grant+" ON ALL TABLES IN SCHEMA public TO "+user)
		}
		u, err := url.Parse(d.CLIURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(user, pw)
		good = u.String()
		u.User = url.UserPassword(user, pw+"x")
		bad = u.String()
	default:
		t.Fatalf("no users on %s", d.Server.Name)
	}
	return user, good, bad
}

// TestRefusedTaskExits3: a maintenance task the server refuses for lack of a privilege exits 3 (the
// README's "not permitted") and says to grant it, not 1 with "run it again".
func TestRefusedTaskExits3(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("SQLite has no privileges, and the tests run as root, whom a read-only file does not stop")
		}
		dir := t.TempDir()
		if r := runCmd(t, dir, nil, "", "-database", d.CLIURL, "up"); r.code != 0 {
			t.Fatalf("up: %d\n%s", r.code, r.stderr)
		}
		mustExec(t, d, "INSERT INTO sessions (session_id, user_id, created_at, last_accessed_at, expires_at) VALUES ('old', 'u0', '2020-01-01 00:00:00', '2020-01-01 00:00:00', '2020-01-02 00:00:00')")
		_, url, _ := newUser(t, d, "Read0nly!", "SELECT")
		for _, task := range []string{"cleanup", "archive"} {
			r := runCmd(t, dir, nil, "", "-database", url, task, "-json")
			out := jsonOf(t, r)
			msg, _ := out["error"].(string)
			t.Logf("%s: %s", task, msg)
			if r.code != 3 || out["exit"].(float64) != 3 || !strings.Contains(msg, "grant") || strings.Contains(msg, "run it again to continue") {
				t.Fatalf("%s as a SELECT-only user: exit %d, error %q", task, r.code, msg)
			}
		}
		var n int
		if err := d.DB.QueryRow("SELECT COUNT(*) FROM sessions").Scan(&n); err != nil || n != 1 {
			t.Fatalf("sessions: %d %v", n, err)
		}
	})
}

// TestEncodedPasswordConnects: a user whose password holds @ / ? % : connects through a URL with the
// password percent-encoded, on MySQL, MariaDB and PostgreSQL; a wrong password names the database,
// server and user, never the password. (The PostgreSQL test server trusts loopback connections, so
// there the proof is that the command worked as that user - it owns the tables up created - and the
// wrong-password half runs where the server checks passwords; TestParseDatabaseRejects checks that
// lib/pq reads the decoded password from the DSN.)
func TestEncodedPasswordConnects(t *testing.T) {
	const pw = "p@s/s?w%d:1"
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("SQLite has no users or passwords")
		}
		user, good, bad := newUser(t, d, pw, "ALL")
		if !strings.Contains(good, "%40") || !strings.Contains(good, "%2F") {
			t.Fatalf("the URL does not percent-encode the password: %s", Redact(good))
		}
		dir := t.TempDir()
		r := runCmd(t, dir, nil, "", "-database", good, "status")
		if r.code != 0 {
			t.Fatalf("status with the encoded password: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if d.Server.Dialect == "postgres" {
			if r := runCmd(t, dir, nil, "", "-database", good, "up"); r.code != 0 {
				t.Fatalf("up as %s: exit %d\n%s", user, r.code, r.stderr)
			}
			var owner string
			if err := d.DB.QueryRow("SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'sessions'").Scan(&owner); err != nil || owner != user {
				t.Fatalf("the session table's owner is %q (%v), want %s: the command did not connect as the URL's user", owner, err, user)
			}
			if r := runCmd(t, dir, nil, "", "-database", bad, "status"); r.code == 0 {
				t.Logf("PostgreSQL accepted a wrong password (trust authentication on loopback): the wrong-password half needs password authentication")
				return
			}
		}
		r = runCmd(t, dir, nil, "", "-database", bad, "status", "-json")
		out := jsonOf(t, r)
		msg, _ := out["error"].(string)
		if r.code != 3 || !strings.Contains(msg, `as user "`+user+`"`) || !strings.Contains(msg, filepath.Base(d.Name)) {
			t.Fatalf("a wrong password: exit %d, error %q", r.code, msg)
		}
		for _, secret := range []string{pw, url.QueryEscape(pw), "p@s", "p%40s"} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Fatalf("the password (%s) reached the output:\n%s%s", secret, r.stdout, r.stderr)
			}
		}
	})
}

// TestProgressBars draws the bars into a buffer as on a terminal: the first rate is rows over the time
// since the work started (not one batch over a few microseconds), the label names the step running
// (not the one before), and the final state stays on screen, on a line of its own.
func TestProgressBars(t *testing.T) {
	rates := func(out string) []float64 {
		var rs []float64
		for _, m := range regexp.MustCompile(`(\d+) rows/s`).FindAllStringSubmatch(out, -1) {
			r, _ := strconv.ParseFloat(m[1], 64)
			rs = append(rs, r)
		}
		return rs
	}
	lastFrame := func(out string) string {
		out = strings.TrimRight(out, "\n")
		return out[strings.LastIndexAny(out, "\r\n")+1:]
	}
	t.Run("task", func(t *testing.T) {
		var buf lockedBuffer
		p := newProgress(&buf, true, slog.Default(), "cleanup", -1, "rows")
		time.Sleep(300 * time.Millisecond) // the first batch takes a while
		p.report(sessionsec.Progress{Task: "cleanup", Unit: sessionsec.UnitRows, Done: 3000, Elapsed: 300 * time.Millisecond})
		time.Sleep(150 * time.Millisecond)
		p.report(sessionsec.Progress{Task: "cleanup", Unit: sessionsec.UnitRows, Done: 4500, Elapsed: 450 * time.Millisecond})
		p.finish(nil)
		rs := rates(buf.String())
		// 3000 rows in 0.3 s is 10,000 rows/s; allow for a slow machine, not for a factor of 1000.
		if len(rs) == 0 || slices.Max(rs) > 20_000 {
			t.Fatalf("rates %v:\n%q", rs, buf.String())
		}
		if !strings.HasSuffix(buf.String(), "\n") || !strings.Contains(lastFrame(buf.String()), "4500") {
			t.Fatalf("the final state is not left on screen on a line of its own:\n%q", buf.String())
		}
	})
	t.Run("steps", func(t *testing.T) {
		bf := backfillVersion()
		steps := []sessionsec.Step{{Version: bf - 1, Name: "create_backfill_procedure"}, {Version: bf, Name: "backfill"}, {Version: bf + 1, Name: "idx_sessions_security_hash"}}
		var buf lockedBuffer
		p := stepsProgress(&buf, true, "migrate", steps)
		if !strings.Contains(buf.String(), "migrate 1/3 create_backfill_procedure") {
			t.Fatalf("the first label does not name the first step:\n%q", buf.String())
		}
		time.Sleep(150 * time.Millisecond)
		p.migration(sessionsec.Progress{Task: "migrate", Version: bf - 1, Step: "create_backfill_procedure", Unit: sessionsec.UnitSteps, Done: 1, Total: 1, Final: true})
		if !regexp.MustCompile(`migrate 2/3 backfill[^\r\n]*\(1/3`).MatchString(buf.String()) {
			t.Fatalf("the frame that counts step 1 done does not name step 2:\n%q", buf.String())
		}
		time.Sleep(300 * time.Millisecond)
		p.migration(sessionsec.Progress{Task: "migrate", Version: bf, Step: "backfill", Unit: sessionsec.UnitRows, Done: 3000, Total: 6000, Elapsed: 300 * time.Millisecond})
		time.Sleep(150 * time.Millisecond)
		p.migration(sessionsec.Progress{Task: "migrate", Version: bf, Step: "backfill", Unit: sessionsec.UnitRows, Done: 6000, Total: 6000, Final: true})
		p.migration(sessionsec.Progress{Task: "migrate", Version: bf, Step: "backfill", Unit: sessionsec.UnitSteps, Done: 1, Total: 1, Final: true})
		time.Sleep(150 * time.Millisecond)
		p.migration(sessionsec.Progress{Task: "migrate", Version: bf + 1, Step: "idx", Unit: sessionsec.UnitSteps, Done: 1, Total: 1, Final: true})
		p.finish(nil)
		out := buf.String()
		if rs := rates(out); len(rs) == 0 || slices.Max(rs) > 20_000 {
			t.Fatalf("backfill rates %v:\n%q", rs, out)
		}
		if !strings.Contains(out, "6000/6000") {
			t.Fatalf("the backfill's final count is not on screen:\n%q", out)
		}
		if last := lastFrame(out); !strings.Contains(last, "migrate: done") || !strings.Contains(last, "3/3") || !strings.HasSuffix(out, "\n") {
			t.Fatalf("the final state is not on screen (last frame %q):\n%q", last, out)
		}
	})
}

// lockedBuffer is a bytes.Buffer the spinner's own goroutine can draw into while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
