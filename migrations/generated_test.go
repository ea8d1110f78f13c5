package migrations_test

import (
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4/source"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/migrations"
	_ "github.com/agui-go/sessionsec/mysql"
	_ "github.com/agui-go/sessionsec/postgres"
	"github.com/agui-go/sessionsec/schema"
	_ "github.com/agui-go/sessionsec/sqlite"
)

var update = flag.Bool("update", false, "rewrite the committed folders from the declaration")

var layouts = map[string]schema.Layout{"spec": schema.Spec, "agui": schema.AGUI}

// TestCommittedFoldersAreCurrent: every committed folder is exactly what the declaration renders, with no
// stray file. Regenerate with: go test ./migrations -run TestCommittedFoldersAreCurrent -update
func TestCommittedFoldersAreCurrent(t *testing.T) {
	for _, ln := range migrations.Layouts {
		for _, dn := range migrations.Dialects {
			t.Run(ln+"/"+dn, func(t *testing.T) {
				want, err := sessionsec.RenderFiles(dn, layouts[ln])
				if err != nil {
					t.Fatal(err)
				}
				dir, _ := migrations.Path(ln, dn)
				if *update {
					writeFolder(t, dir, want)
				}
				got := map[string]string{}
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					b, err := os.ReadFile(filepath.Join(dir, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					got[e.Name()] = string(b)
				}
				for _, name := range slices.Sorted(maps.Keys(want)) {
					if got[name] != want[name] {
						t.Errorf("migrations/%s/%s is stale (run go test ./migrations -run TestCommittedFoldersAreCurrent -update)", dir, name)
					}
				}
				for name := range got {
					if _, ok := want[name]; !ok {
						t.Errorf("migrations/%s/%s is not part of the change: remove it (golang-migrate would parse it)", dir, name)
					}
				}
			})
		}
	}
}

func writeFolder(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEmbeddedSet checks what golang-migrate would silently get wrong: every version has both an up and
// a down file, none is empty, versions are contiguous from 1, MySQL files hold one statement, and no file
// uses what the original scripts broke on.
func TestEmbeddedSet(t *testing.T) {
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`(?im)^\s*DELIMITER\b`),                  // a mysql-client command
		regexp.MustCompile(`(?i)\b(MD5|SHA1)\s*\(`),                 // removed in MySQL 9
		regexp.MustCompile(`(?i)\bschema_migrations\b`),             // golang-migrate owns it
		regexp.MustCompile(`(?i)\bRAND\s*\(|\bRANDOM\s*\(`),         // hashes must be recomputable
		regexp.MustCompile(`(?im)^(BEGIN|START\s+TRANSACTION)\s*;`), // a file-level transaction: DDL is not transactional on MySQL
		regexp.MustCompile(`(?i)\bLOAD_FILE\s*\(`),                  // server file access
		regexp.MustCompile(`(?i)\bFLOOR\s*\([^)]*/`),                // DECIMAL division rounds before FLOOR
	}
	for _, ln := range migrations.Layouts {
		for _, dn := range migrations.Dialects {
			t.Run(ln+"/"+dn, func(t *testing.T) {
				dir, err := migrations.Dir(ln, dn)
				if err != nil {
					t.Fatal(err)
				}
				entries, err := fs.ReadDir(dir, ".")
				if err != nil {
					t.Fatal(err)
				}
				ups, downs := map[uint]string{}, map[uint]string{}
				for _, e := range entries {
					name := e.Name()
					m, err := source.DefaultParse(name)
					if err != nil {
						t.Errorf("%s: %v", name, err)
						continue
					}
					b, _ := fs.ReadFile(dir, name)
					body := stripComments(string(b))
					if strings.TrimSpace(body) == "" {
						t.Errorf("%s has no statement (golang-migrate fails on empty files and marks the database dirty)", name)
					}
					for _, re := range forbidden {
						if loc := re.FindStringIndex(body); loc != nil {
							t.Errorf("%s uses %q, which the original scripts broke on", name, body[loc[0]:loc[1]])
						}
					}
					if dn == "mysql" && strings.Contains(strings.TrimRight(strings.TrimSpace(body), ";"), ";\n") && !strings.Contains(body, "BEGIN") {
						t.Errorf("%s holds more than one statement: a pool without multiStatements=true could not run it", name)
					}
					target := ups
					if m.Direction == source.Down {
						target = downs
					}
					target[m.Version] = name
				}
				for v := uint(1); v <= schema.Latest(); v++ {
					if ups[v] == "" || downs[v] == "" {
						t.Errorf("version %d lacks its up or down file", v)
					}
				}
				if _, err := migrations.Source(ln, dn); err != nil {
					t.Errorf("as a golang-migrate source: %v", err)
				}
			})
		}
	}
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func TestPathRejectsUnknown(t *testing.T) {
	if _, err := migrations.Path("spec", "oracle"); err == nil {
		t.Fatal("want an error for an unknown dialect")
	}
}
