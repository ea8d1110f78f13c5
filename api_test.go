package sessionsec_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// TestAPIShape keeps one API shape: every operation is a method of Provider, and an exported
// package-level function taking (ctx, db *sql.DB, ...) is only a mirror of the method of the same name -
// the same parameters after db, the same results, a doc comment that points at the method - unless it
// is Deprecated. A new package function without its method, or a mirror that drifts from it, fails here.
func TestAPIShape(t *testing.T) {
	pkg := parseDoc(t, osDir("."), ".")
	problems, mirrors := apiShape(pkg)
	for _, p := range problems {
		t.Error(p)
	}
	// The mirrors the README promises; a missing one is a broken start-up snippet or runbook.
	for _, name := range []string{"Migrate", "Validate", "Preflight", "Status", "Version", "Archive", "Cleanup",
		"PruneAudit", "UpdateRiskScores", "ReadMetrics", "Seal", "SealSession", "RunSealer", "Verify",
		"VerifySession", "RetireKey", "ReadLease"} {
		requireT(t, slices.Contains(mirrors, name), "no package-level mirror %s (mirrors: %v)", name, mirrors)
	}
}

// TestAPIShapeCanFail runs the shape check on a package that breaks each rule once.
func TestAPIShapeCanFail(t *testing.T) {
	src := `package bad

import (
	"context"
	"database/sql"
)

// Provider is a handle.
type Provider struct{}

// Lonely has no method.
func Lonely(ctx context.Context, db *sql.DB) error { return nil }

// Drift is [Provider.Drift] on db.
func Drift(ctx context.Context, db *sql.DB) (int, error) { return 0, nil }

// Drift returns something else.
func (p *Provider) Drift(ctx context.Context) error { return nil }

// Args is [Provider.Args] on db.
func Args(ctx context.Context, db *sql.DB, id string) error { return nil }

// Args takes another parameter.
func (p *Provider) Args(ctx context.Context, id int) error { return nil }

// Undocumented says nothing of its method.
func Undocumented(ctx context.Context, db *sql.DB) error { return nil }

// Undocumented is fine.
func (p *Provider) Undocumented(ctx context.Context) error { return nil }

// Old is kept.
//
// Deprecated: use New(db) and [Provider.Other].
func Old(ctx context.Context, db *sql.DB) error { return nil }

// Good is [Provider.Good] on db.
func Good(ctx context.Context, db *sql.DB, opts ...int) (n int, err error) { return 0, nil }

// Good is fine.
func (p *Provider) Good(ctx context.Context, opts ...int) (int, error) { return 0, nil }
`
	fsys := mapFS{"bad.go": src}
	problems, mirrors := apiShape(parseDoc(t, fsys, "."))
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"Lonely: no method", "Drift: results", "Args: parameters", "Undocumented: its doc"} {
		requireT(t, strings.Contains(joined, want), "the check missed %q; it said:\n%s", want, joined)
	}
	requireT(t, len(problems) == 4, "exactly the four broken functions fail, not the deprecated or the good one:\n%s", joined)
	requireT(t, slices.Equal(mirrors, []string{"Good"}), "mirrors: %v", mirrors)
}

// apiShape returns the rule breaks of pkg and the names of its package-level functions that mirror
// their method exactly.
func apiShape(pkg *doc.Package) (problems, mirrors []string) {
	methods := map[string]*ast.FuncDecl{}
	for _, typ := range pkg.Types {
		if typ.Name == "Provider" {
			for _, m := range typ.Methods {
				methods[m.Name] = m.Decl
			}
		}
	}
	var funcs []*doc.Func
	funcs = append(funcs, pkg.Funcs...)
	for _, typ := range pkg.Types {
		funcs = append(funcs, typ.Funcs...) // constructors go/doc files under their result type
	}
	slices.SortFunc(funcs, func(a, b *doc.Func) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range funcs {
		params := fieldTypes(f.Decl.Type.Params)
		if len(params) < 2 || params[0] != "context.Context" || params[1] != "*sql.DB" {
			continue
		}
		if deprecated(f.Doc) {
			continue
		}
		m, ok := methods[f.Name]
		if !ok {
			problems = append(problems, f.Name+": no method (*Provider)."+f.Name+"; make it one, or deprecate the function")
			continue
		}
		var broken []string
		if got, want := fieldTypes(m.Type.Results), fieldTypes(f.Decl.Type.Results); !slices.Equal(got, want) {
			broken = append(broken, f.Name+": results "+strings.Join(want, ", ")+", the method's "+strings.Join(got, ", "))
		}
		want := append([]string{params[0]}, params[2:]...)
		if got := fieldTypes(m.Type.Params); !slices.Equal(got, want) {
			broken = append(broken, f.Name+": parameters after db "+strings.Join(want, ", ")+", the method's "+strings.Join(got, ", "))
		}
		if !strings.Contains(f.Doc, "[Provider."+f.Name+"]") {
			broken = append(broken, f.Name+": its doc does not point at [Provider."+f.Name+"]")
		}
		if broken == nil {
			mirrors = append(mirrors, f.Name)
		}
		problems = append(problems, broken...)
	}
	return problems, mirrors
}

// deprecated is whether a doc comment has a paragraph starting "Deprecated: " (the go doc convention).
func deprecated(text string) bool {
	for _, para := range strings.Split(text, "\n\n") {
		if strings.HasPrefix(strings.TrimSpace(para), "Deprecated: ") {
			return true
		}
	}
	return false
}

// fieldTypes lists a parameter or result list's types, one per name: "a, b int" is int, int.
func fieldTypes(fl *ast.FieldList) []string {
	var out []string
	if fl == nil {
		return out
	}
	for _, f := range fl.List {
		var b strings.Builder
		_ = printer.Fprint(&b, token.NewFileSet(), f.Type)
		for range max(len(f.Names), 1) {
			out = append(out, b.String())
		}
	}
	return out
}

func parseDoc(t *testing.T, fsys fsReader, dir string) *doc.Package {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range fsys.names() {
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := fsys.read(name)
		requireT(t, err == nil, "reading %s: %v", name, err)
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		requireT(t, err == nil, "parsing %s: %v", name, err)
		files = append(files, f)
	}
	requireT(t, len(files) > 0, "no Go files in %s", dir)
	pkg, err := doc.NewFromFiles(fset, files, "example.com/"+files[0].Name.Name)
	requireT(t, err == nil, "go/doc: %v", err)
	return pkg
}

// fsReader is the directory of the package under test, or a test's files in memory.
type fsReader interface {
	names() []string
	read(name string) ([]byte, error)
}

type mapFS map[string]string

func (m mapFS) names() []string                  { return slices.Sorted(maps.Keys(m)) }
func (m mapFS) read(name string) ([]byte, error) { return []byte(m[name]), nil }

// osDir is a directory on disk.
type osDir string

func (d osDir) names() []string {
	entries, _ := os.ReadDir(string(d))
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func (d osDir) read(name string) ([]byte, error) { return os.ReadFile(string(d) + "/" + name) }

// TestAPIDeprecatedWrappers: the deprecated names still work and give what their replacements give.
func TestAPIDeprecatedWrappers(t *testing.T) {
	for _, dn := range []string{"mysql", "postgres", "sqlite"} {
		old, err := sessionsec.Files(dn, schema.AGUI) //nolint:staticcheck // the deprecated name, on purpose
		requireT(t, err == nil, "Files(%s): %v", dn, err)
		now, err := sessionsec.RenderFiles(dn, schema.AGUI)
		requireT(t, err == nil && maps.Equal(old, now) && len(now) > 0, "Files and RenderFiles differ for %s: %v", dn, err)
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 10)
		p, err := sessionsec.New(d.DB, quiet)
		requireT(t, err == nil, "New: %v", err)
		old, err := sessionsec.PlanFor(ctx, d.DB, quiet) //nolint:staticcheck // the deprecated name, on purpose
		requireT(t, err == nil, "PlanFor: %v", err)
		now, err := p.Plan(ctx)
		requireT(t, err == nil && old.String() == now.String() && len(now.Steps) > 0, "PlanFor and Plan differ: %v\n%v\n%v", err, old, now)
		mustMigrate(t, d.DB, quiet)
		v, dirty, ok, err := p.Version(ctx)
		pv, pdirty, pok, perr := sessionsec.Version(ctx, d.DB)
		requireT(t, err == nil && perr == nil && ok && pok && !dirty && !pdirty && v == pv && v == uint(len(sessionsec.Steps("sessions"))),
			"Version: method %d %t %t %v, package %d %t %t %v", v, dirty, ok, err, pv, pdirty, pok, perr)
		// The deprecated Rollback mixes the handle's and the call's options as before.
		err = sessionsec.Rollback(ctx, d.DB, quiet, sessionsec.WithTargetVersion(1)) //nolint:staticcheck // the deprecated name, on purpose
		requireT(t, err == nil, "Rollback: %v", err)
		v, _, ok, err = p.Version(ctx)
		requireT(t, err == nil && ok && v == 1, "after Rollback to 1: %d %t %v", v, ok, err)
		_, err = p.Rollback(ctx)
		requireT(t, err == nil, "Provider.Rollback: %v", err)
		_, _, ok, err = p.Version(ctx)
		requireT(t, err == nil && !ok, "after a complete rollback: ok=%t %v", ok, err)
	})
}
