package dialect

import (
	"slices"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec/schema"
)

// The dialects' two ways of quoting an identifier, as they write them.
func backtick(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
func ansi(s string) string     { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func TestQuoteList(t *testing.T) {
	for _, c := range []struct {
		quote func(string) string
		names []string
		want  string
	}{
		{backtick, []string{"risk_score"}, "`risk_score`"},
		{backtick, []string{"a", "b`c"}, "`a`, `b``c`"},
		{ansi, []string{"is_active", "expires_at"}, `"is_active", "expires_at"`},
		{ansi, []string{`x"y`}, `"x""y"`},
		{ansi, nil, ""},
	} {
		if got := QuoteList(c.quote, c.names); got != c.want {
			t.Errorf("QuoteList(%q) = %q, want %q", c.names, got, c.want)
		}
	}
}

func TestPredicate(t *testing.T) {
	for _, c := range []struct {
		p    schema.Predicate
		want string
	}{
		{schema.Predicate{Column: "risk_score", Op: schema.GreaterThan0}, `"risk_score" > 0`},
		{schema.Predicate{Column: "ip hash", Op: schema.IsNotNull}, `"ip hash" IS NOT NULL`},
	} {
		if got := Predicate(ansi, c.p); got != c.want {
			t.Errorf("Predicate(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
	// Every partial index the change declares renders through it: the same text as the schema's own
	// (unquoted) rendering once the quotes go.
	for _, ix := range schema.Change.Indexes {
		if ix.Partial == nil {
			continue
		}
		if got, want := strings.ReplaceAll(Predicate(ansi, *ix.Partial), `"`, ""), ix.Partial.String(); got != want {
			t.Errorf("index %s: Predicate = %q, schema says %q", ix.Suffix, got, want)
		}
	}
}

func TestIndent(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1;", "    SELECT 1;\n"},
		{"a\nb\n", "    a\n    b\n"},
		{"a\n\n\n", "    a\n"},
		{"a\n\nb", "    a\n    \n    b\n"},
	} {
		if got := Indent(c.in, "    "); got != c.want {
			t.Errorf("Indent(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTriggerDocs(t *testing.T) {
	withIP, withoutIP := Target{Layout: schema.AGUI}, Target{Layout: schema.Spec}
	if got, want := IPDoc(withIP), " and created_ip_hash from "+schema.AGUI.Column(schema.RoleIP); got != want {
		t.Errorf("IPDoc(agui) = %q, want %q", got, want)
	}
	if got := IPDoc(withoutIP); got != "" {
		t.Errorf("IPDoc(spec) = %q, want none", got)
	}
	first := schema.Step{Kind: schema.StepTrigger, Revision: 1}
	keyed := schema.Step{Kind: schema.StepTrigger, Revision: schema.RevisionKeyedIP}
	unchanged := "the insert trigger's definition of this release (this layout has no IP column: unchanged)"
	for _, c := range []struct {
		name    string
		t       Target
		step    schema.Step
		keyedIP bool
	}{
		{"agui, keyed revision", withIP, keyed, true},
		{"spec, keyed revision", withoutIP, keyed, false},
		{"agui, first revision", withIP, first, false},
	} {
		doc := RevisionDoc(c.t, c.step)
		if got := strings.Contains(doc, "no longer get the unkeyed created_ip_hash"); got != c.keyedIP {
			t.Errorf("%s: RevisionDoc = %q: tells of the keyed IP binding %v, want %v", c.name, doc, got, c.keyedIP)
		}
		if got := strings.Contains(doc, unchanged); got == c.keyedIP {
			t.Errorf("%s: RevisionDoc = %q: says unchanged %v, want %v", c.name, doc, got, !c.keyedIP)
		}
		// The text follows "-- " in a file: every further line must be a comment too.
		for _, l := range strings.Split(doc, "\n")[1:] {
			if !strings.HasPrefix(l, "-- ") {
				t.Errorf("%s: RevisionDoc line %q is not an SQL comment", c.name, l)
			}
		}
	}
}

func TestAuditIndexObjects(t *testing.T) {
	got := AuditIndexObjects()
	if len(got) != len(schema.Change.AuditIndexes) {
		t.Fatalf("%d objects for %d audit indexes", len(got), len(schema.Change.AuditIndexes))
	}
	for i, ix := range schema.Change.AuditIndexes {
		o := got[i]
		if o.Table != schema.Change.AuditLog || o.Name != ix.Name || !slices.Equal(o.Columns, ix.Columns) ||
			!o.Valid || o.Method != "btree" || o.Unique || o.Primary || o.Predicate != "" {
			t.Errorf("audit index %s: object %+v", ix.Name, *o)
		}
	}
}

func TestBaseTableLines(t *testing.T) {
	defaults := map[schema.Default]string{schema.DefaultNow: "now()", schema.DefaultTrue: "true"}
	got := BaseTableLines(schema.Spec, "postgres", ansi, NotNullDefault(defaults))
	want := []string{
		`    "session_id" varchar(255) NOT NULL`,
		`    "user_id" varchar(255)`,
		`    "created_at" timestamptz NOT NULL DEFAULT now()`,
		`    "expires_at" timestamptz`,
		`    "last_accessed_at" timestamptz`,
		`    PRIMARY KEY ("session_id")`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("BaseTableLines(spec, postgres):\n got %q\nwant %q", got, want)
	}
	// A mapped layout: the mapped names, and the columns a mapped IP and active flag add.
	l := schema.Spec.Map(map[schema.Role]string{schema.RoleKey: "sid", schema.RoleIP: "ip", schema.RoleActive: "on"})
	got = BaseTableLines(l, "sqlite", backtick, func(c schema.BaseColumn) string { return "" })
	if first, last := got[0], got[len(got)-1]; first != "    `sid` TEXT" || last != "    PRIMARY KEY (`sid`)" {
		t.Errorf("BaseTableLines(mapped): first %q, last %q", first, last)
	}
	if !slices.Contains(got, "    `ip` TEXT") || !slices.Contains(got, "    `on` BOOLEAN") {
		t.Errorf("BaseTableLines(mapped) = %q: no ip or active column", got)
	}
}
