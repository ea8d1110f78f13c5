package dialect

import (
	"strings"
	"testing"
)

func snap() *Snapshot {
	s := NewSnapshot()
	one := "1"
	s.Tables["sessions"] = &Table{Name: "sessions", Columns: []*Column{
		{Name: "session_id", Type: "varchar(255)"},
		{Name: "security_version", Type: "int", Default: &one, Comment: "v"},
	}}
	s.Indexes["idx_a"] = &Index{Table: "sessions", Name: "idx_a", Columns: []string{"a", "b"}, Predicate: "a is not null", Valid: true}
	s.Triggers["trg"] = &Trigger{Name: "trg", Table: "sessions", Timing: "BEFORE", Event: "INSERT", Body: "SIGNAL SQLSTATE '45000'"}
	s.Routines["proc"] = &Routine{Name: "Proc", Kind: "PROCEDURE"}
	s.Checks["chk"] = &Check{Table: "sessions", Name: "chk", Expr: "x between 0 and 100", Validated: true}
	return s
}

func TestDiffFindsEveryDifference(t *testing.T) {
	want := snap()
	want.Triggers["trg"].BodyContains = []string{"45000"}
	if d := Diff(want, snap()); len(d) != 0 {
		t.Fatalf("identical snapshots differ: %v", d)
	}
	got := snap()
	got.Tables["sessions"].Columns[1].Type = "bigint"
	got.Tables["sessions"].Columns[1].Default = nil
	got.Indexes["idx_a"].Columns = []string{"b", "a"}
	got.Indexes["idx_a"].Valid = false
	got.Triggers["trg"].Timing = "AFTER"
	got.Triggers["trg"].Body = "BEGIN END"
	delete(got.Routines, "proc")
	got.Checks["chk"].Validated = false
	d := Diff(want, got)
	var all []string
	for _, m := range d {
		all = append(all, m.String())
	}
	text := strings.Join(all, "\n")
	for _, frag := range []string{"type int, got type bigint", "default 1, got default none", "columns (a, b)", "INVALID",
		"BEFORE INSERT ON sessions, got AFTER INSERT", `body containing "45000"`, "routine Proc", "NOT VALID"} {
		if !strings.Contains(text, frag) {
			t.Errorf("Diff missed %q in:\n%s", frag, text)
		}
	}
	if len(d) != 8 {
		t.Errorf("want 8 mismatches, got %d:\n%s", len(d), text)
	}
}

func TestAbsentKeepsBaseTable(t *testing.T) {
	want := snap()
	got := NewSnapshot()
	got.Tables["sessions"] = &Table{Name: "sessions", Columns: []*Column{{Name: "other"}}}
	if a := Absent(want, got, "sessions"); len(a) != 0 {
		t.Fatalf("a kept table without our columns is not a leftover: %v", a)
	}
	if a := Absent(want, snap(), "sessions"); len(a) != 6 { // 2 columns, index, trigger, routine, check
		t.Fatalf("want 6 leftovers, got %d: %v", len(a), a)
	}
}
