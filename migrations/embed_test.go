package migrations_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4/source"

	"github.com/agui-go/sessionsec/migrations"
)

// TestEmbeddedSet checks what golang-migrate would silently get wrong: every version has both an up and a
// down file, none is empty, nothing else sits in the folder (editor leftovers parse as migrations),
// versions are contiguous from 1, and no file uses what the original scripts broke on.
func TestEmbeddedSet(t *testing.T) {
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`(?im)^\s*DELIMITER\b`),                     // a mysql-client command
		regexp.MustCompile(`(?i)\b(MD5|SHA1)\s*\(`),                    // removed in MySQL 9
		regexp.MustCompile(`(?i)\bschema_migrations\b`),                // golang-migrate owns it
		regexp.MustCompile(`(?i)\bRAND\s*\(|\bRANDOM\s*\(`),            // hashes must be recomputable
		regexp.MustCompile(`(?im)^\s*(BEGIN|START\s+TRANSACTION)\s*;`), // DDL is not transactional on MySQL
		regexp.MustCompile(`(?i)\bLOAD_FILE\s*\(`),                     // server file access
	}
	for _, d := range migrations.Dialects {
		t.Run(d, func(t *testing.T) {
			dir, err := migrations.Dir(d)
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
				if !strings.HasSuffix(name, ".sql") {
					t.Errorf("stray file %s: only NNNNNN_name.{up,down}.sql belongs here", name)
					continue
				}
				m, err := source.DefaultParse(name)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				body, err := fs.ReadFile(dir, name)
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(stripComments(string(body))) == "" {
					t.Errorf("%s has no statement (golang-migrate fails on empty files and marks the database dirty)", name)
				}
				for _, re := range forbidden {
					if loc := re.FindStringIndex(stripComments(string(body))); loc != nil {
						t.Errorf("%s uses %q, which the original scripts broke on", name, string(body)[loc[0]:loc[1]])
					}
				}
				target := ups
				if m.Direction == source.Down {
					target = downs
				}
				if prev, dup := target[m.Version]; dup {
					t.Errorf("version %d has two %s files: %s and %s", m.Version, m.Direction, prev, name)
				}
				target[m.Version] = name
			}
			if len(ups) == 0 {
				t.Fatal("no migrations")
			}
			for v := uint(1); v <= uint(len(ups)); v++ {
				if ups[v] == "" {
					t.Errorf("version %d has no up file (versions must be contiguous from 1)", v)
				}
				if downs[v] == "" {
					t.Errorf("version %d has no down file (golang-migrate would silently skip it on rollback)", v)
				}
			}
			if len(downs) != len(ups) {
				t.Errorf("%d up files but %d down files", len(ups), len(downs))
			}
			if _, err := migrations.Source(d); err != nil {
				t.Errorf("as a golang-migrate source: %v", err)
			}
		})
	}
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDirRejectsUnknownDialect(t *testing.T) {
	if _, err := migrations.Dir("oracle"); err == nil {
		t.Fatal("want an error for an unknown dialect")
	}
}
