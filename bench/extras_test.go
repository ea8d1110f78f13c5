package main

import (
	"strings"
	"testing"
)

func section(name, body string) string {
	return sectionStart(name) + "\n" + body + "\n" + sectionEnd(name) + "\n"
}

// TestSpliceSections: a run of only the extra measurements replaces its own sections in the report and
// appends the ones it lacks; a full run keeps the earlier sections it did not repeat.
func TestSpliceSections(t *testing.T) {
	report := "# Benchmarks\n\ntables\n\n" + section(sectionGalera, "old galera") + "\ntail\n"
	got := spliceSections(report, section(sectionGalera, "new galera")+section(sectionIntegrity, "integrity"), true)
	for _, want := range []string{"# Benchmarks\n\ntables\n\n", "new galera", "\ntail\n", "integrity"} {
		if !strings.Contains(got, want) {
			t.Errorf("replace: %q missing from\n%s", want, got)
		}
	}
	if strings.Contains(got, "old galera") || strings.Count(got, sectionStart(sectionGalera)) != 1 {
		t.Errorf("replace: the old section stayed:\n%s", got)
	}
	if i, j := strings.Index(got, "new galera"), strings.Index(got, "tail"); i > j {
		t.Errorf("replace: the section moved:\n%s", got)
	}
	again := spliceSections(got, section(sectionIntegrity, "integrity 2"), true)
	if strings.Count(again, sectionStart(sectionIntegrity)) != 1 || !strings.Contains(again, "integrity 2") {
		t.Errorf("second splice:\n%s", again)
	}

	full := "# Benchmarks (new run)\n\n" + section(sectionIntegrity, "fresh integrity")
	kept := spliceSections(full, got, false)
	if !strings.Contains(kept, "new galera") || !strings.Contains(kept, "fresh integrity") || strings.Contains(kept, "\nintegrity\n") {
		t.Errorf("keep:\n%s", kept)
	}
}

func TestRedactArgs(t *testing.T) {
	t.Setenv("SESSIONSEC_GALERA_DSNS", "a:pw@tcp(127.0.0.1:1)/,a:pw@tcp(127.0.0.1:2)/")
	for _, args := range [][]string{
		{"-compare=false", "-galera", "a:pw@tcp(127.0.0.1:1)/,a:pw@tcp(127.0.0.1:2)/"},
		{"--galera=x:secret@tcp(127.0.0.1:3)/,y:secret@tcp(127.0.0.1:4)/"},
		{"-replicas", "-mariadb-replica", "a:pw@tcp(127.0.0.1:3309)/", "-postgres-standby=postgres://u:secret@127.0.0.1:5434/postgres"},
	} {
		got := strings.Join(redactArgs(args), " ")
		if strings.Contains(got, "pw") || strings.Contains(got, "secret") {
			t.Errorf("redactArgs(%q) = %q: a password is left", args, got)
		}
		if !strings.Contains(got, "galera") && !strings.Contains(got, "-mariadb-replica '<DSN>' -postgres-standby='<DSN>'") {
			t.Errorf("redactArgs(%q) = %q: the flag is gone", args, got)
		}
	}
}
