package dialect

import (
	"fmt"
	"slices"
	"strings"
)

// Mismatch is one difference between an expected and an actual snapshot.
type Mismatch struct {
	Object string // e.g. "column sessions.risk_score", "index idx_sessions_risk_score"
	Want   string // what was expected ("" when the object must be absent)
	Got    string // what was found ("missing" when absent)
}

func (m Mismatch) String() string {
	if m.Want == "" {
		return fmt.Sprintf("%s: should be absent, found %s", m.Object, m.Got)
	}
	return fmt.Sprintf("%s: want %s, got %s", m.Object, m.Want, m.Got)
}

const missing = "missing"

// Diff compares every object of want with got and returns every difference, in a stable order.
// Objects present in got but not in want are ignored: the user's own columns, indexes and triggers
// are none of our business.
func Diff(want, got *Snapshot) []Mismatch {
	var out []Mismatch
	add := func(obj, w, g string) { out = append(out, Mismatch{Object: obj, Want: w, Got: g}) }

	for _, name := range sortedKeys(want.Tables) {
		wt := want.Tables[name]
		gt := got.Tables[name]
		if gt == nil {
			add("table "+name, "present", missing)
			continue
		}
		for _, wc := range wt.Columns {
			obj := "column " + name + "." + wc.Name
			gc := gt.Column(wc.Name)
			if gc == nil {
				add(obj, "present", missing)
				continue
			}
			if !strings.EqualFold(wc.Type, gc.Type) {
				add(obj, "type "+wc.Type, "type "+gc.Type)
			}
			if wc.Nullable != gc.Nullable {
				add(obj, nullability(wc.Nullable), nullability(gc.Nullable))
			}
			if wd, gd := deref(wc.Default), deref(gc.Default); !strings.EqualFold(wd, gd) {
				add(obj, "default "+wd, "default "+gd)
			}
			if wc.Comment != "" && wc.Comment != gc.Comment {
				add(obj, fmt.Sprintf("comment %q", wc.Comment), fmt.Sprintf("comment %q", gc.Comment))
			}
		}
	}
	for _, name := range sortedKeys(want.Indexes) {
		wi, gi := want.Indexes[name], got.Indexes[name]
		obj := "index " + name
		if gi == nil {
			add(obj, "present", missing)
			continue
		}
		if wi.Table != gi.Table {
			add(obj, "on table "+wi.Table, "on table "+gi.Table)
		}
		if !slices.Equal(wi.Columns, gi.Columns) {
			add(obj, "columns ("+strings.Join(wi.Columns, ", ")+")", "columns ("+strings.Join(gi.Columns, ", ")+")")
		}
		if wi.Unique != gi.Unique {
			add(obj, uniqueness(wi.Unique), uniqueness(gi.Unique))
		}
		if !strings.EqualFold(wi.Predicate, gi.Predicate) {
			add(obj, predicate(wi.Predicate), predicate(gi.Predicate))
		}
		if !gi.Valid {
			add(obj, "valid", "INVALID (an interrupted CREATE INDEX CONCURRENTLY; Migrate repairs it)")
		}
	}
	for _, name := range sortedKeys(want.Triggers) {
		wt, gt := want.Triggers[name], got.Triggers[name]
		obj := "trigger " + name
		if gt == nil {
			add(obj, "present", missing)
			continue
		}
		w := fmt.Sprintf("%s %s ON %s", wt.Timing, wt.Event, wt.Table)
		g := fmt.Sprintf("%s %s ON %s", gt.Timing, gt.Event, gt.Table)
		if !strings.EqualFold(w, g) {
			add(obj, w, g)
		}
		body := strings.ToLower(gt.Body)
		for _, frag := range wt.BodyContains {
			if !strings.Contains(body, strings.ToLower(frag)) {
				add(obj, fmt.Sprintf("body containing %q", frag), "a body without it")
			}
		}
	}
	for _, name := range sortedKeys(want.Routines) {
		wr, gr := want.Routines[name], got.Routines[name]
		obj := "routine " + wr.Name
		if gr == nil {
			add(obj, wr.Kind, missing)
			continue
		}
		if !strings.EqualFold(wr.Kind, gr.Kind) {
			add(obj, wr.Kind, gr.Kind)
		}
	}
	for _, name := range sortedKeys(want.Checks) {
		wc, gc := want.Checks[name], got.Checks[name]
		obj := "constraint " + name
		if gc == nil {
			add(obj, "CHECK "+wc.Expr, missing)
			continue
		}
		if wc.Table != gc.Table {
			add(obj, "on table "+wc.Table, "on table "+gc.Table)
		}
		if !strings.EqualFold(wc.Expr, gc.Expr) {
			add(obj, "CHECK "+wc.Expr, "CHECK "+gc.Expr)
		}
		if wc.Validated && !gc.Validated {
			add(obj, "validated", "NOT VALID")
		}
	}
	return out
}

// Absent returns every object of want that is present in got: after a complete rollback nothing of
// the change may be left. keep names tables whose presence is expected anyway (the base sessions table);
// their listed columns must still be gone.
func Absent(want, got *Snapshot, keep ...string) []Mismatch {
	var out []Mismatch
	for _, name := range sortedKeys(want.Tables) {
		gt := got.Tables[name]
		if gt == nil {
			continue
		}
		if !slices.Contains(keep, name) {
			out = append(out, Mismatch{Object: "table " + name, Got: "the table"})
			continue
		}
		for _, wc := range want.Tables[name].Columns {
			if gt.Column(wc.Name) != nil {
				out = append(out, Mismatch{Object: "column " + name + "." + wc.Name, Got: "the column"})
			}
		}
	}
	for _, name := range sortedKeys(want.Indexes) {
		if got.Indexes[name] != nil {
			out = append(out, Mismatch{Object: "index " + name, Got: "the index"})
		}
	}
	for _, name := range sortedKeys(want.Triggers) {
		if got.Triggers[name] != nil {
			out = append(out, Mismatch{Object: "trigger " + name, Got: "the trigger"})
		}
	}
	for _, name := range sortedKeys(want.Routines) {
		if got.Routines[name] != nil {
			out = append(out, Mismatch{Object: "routine " + want.Routines[name].Name, Got: "the routine"})
		}
	}
	for _, name := range sortedKeys(want.Checks) {
		if got.Checks[name] != nil {
			out = append(out, Mismatch{Object: "constraint " + name, Got: "the constraint"})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

func nullability(nullable bool) string {
	if nullable {
		return "NULL"
	}
	return "NOT NULL"
}

func uniqueness(unique bool) string {
	if unique {
		return "unique"
	}
	return "non-unique"
}

func predicate(p string) string {
	if p == "" {
		return "no predicate"
	}
	return "WHERE " + p
}
