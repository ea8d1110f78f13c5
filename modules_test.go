package sessionsec_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// modVersion and modReplace are parts of what `go mod edit -json` and `go work edit -json` print (the go
// command's own parser).
type (
	modVersion struct{ Path, Version string }
	modReplace struct{ Old, New modVersion }
)

type goModJSON struct {
	Module  struct{ Path string }
	Require []modVersion
	Replace []modReplace
}

// pseudoVersion is the form of a pseudo-version on no tag: v0.0.0-yyyymmddhhmmss-abcdefabcdef.
var pseudoVersion = regexp.MustCompile(`^v0\.0\.0-(\d{14})-([0-9a-f]{12})$`)

// TestSubModulesAreConsumable keeps every sub-module installable with plain `go get`: a consumer does not
// inherit a replace directive, so a sub-module's go.mod must have none, and it must require the root
// module at a version the module proxy can serve - not v0.0.0, which exists nowhere. Development inside
// the repository goes through go.work instead, so go.work must use every module.
func TestSubModulesAreConsumable(t *testing.T) {
	if _, err := os.Stat("go.work"); err != nil {
		t.Skip("skipping: no go.work here, so this is not a checkout of the repository (a module zip has no sub-modules)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("skipping: the go command is not on PATH (%v); this test reads go.mod files with it", err)
	}
	var root goModJSON
	goJSON(t, &root, "mod", "edit", "-json", "go.mod")

	var subs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" && path != "go.mod" {
			subs = append(subs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) == 0 {
		t.Fatal("found no sub-module (sessionsectest, sessionsecprom, bench): the walk is wrong")
	}

	var work struct {
		Use     []struct{ DiskPath string }
		Replace []modReplace
	}
	goJSON(t, &work, "work", "edit", "-json", "go.work")
	used := map[string]bool{}
	for _, u := range work.Use {
		used[filepath.Clean(u.DiskPath)] = true
	}

	for _, dir := range append([]string{"."}, subs...) {
		if !used[dir] {
			t.Errorf("go.work does not use ./%s: add it (go work use ./%s), or building it inside the repository fetches the root module from the proxy", dir, dir)
		}
	}
	for _, dir := range subs {
		var m goModJSON
		goJSON(t, &m, "mod", "edit", "-json", filepath.Join(dir, "go.mod"))
		for _, r := range m.Replace {
			t.Errorf("%s/go.mod replaces %s with %s: a consumer does not inherit a replace, so `go get %s` breaks; remove it (development uses go.work)",
				dir, r.Old.Path, r.New.Path, m.Module.Path)
		}
		i := slices.IndexFunc(m.Require, func(r modVersion) bool { return r.Path == root.Module.Path })
		if i < 0 {
			continue // a sub-module that does not import the root needs no version of it
		}
		v := m.Require[i].Version
		if v == "v0.0.0" {
			t.Errorf("%s/go.mod requires %s v0.0.0, a version that exists nowhere: require a tag or the pseudo-version of a commit on main", dir, root.Module.Path)
			continue
		}
		checkPseudoVersion(t, dir, v)
		// The proxy cannot serve an unpublished commit, and in workspace mode the go command still reads
		// the required version's go.mod: go.work maps that exact version to the checkout.
		if !slices.ContainsFunc(work.Replace, func(r modReplace) bool {
			return r.Old.Path == root.Module.Path && r.Old.Version == v && filepath.Clean(r.New.Path) == "."
		}) {
			t.Errorf("go.work has no `replace %s %s => ./` for %s/go.mod's requirement: add it, or building inside the repository fetches that version from the proxy", root.Module.Path, v, dir)
		}
	}
}

// checkPseudoVersion checks that a pseudo-version names a commit of this repository's history with its
// commit time, as the go command checks it when it fetches one: a wrong time or an unknown commit is
// refused with "invalid pseudo-version".
func checkPseudoVersion(t *testing.T, dir, v string) {
	t.Helper()
	m := pseudoVersion.FindStringSubmatch(v)
	if m == nil {
		return // a tag: the proxy serves it once it is pushed
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Logf("%s: not checking that %s is a commit of this repository: no git (%v)", dir, v, err)
		return
	}
	if out, err := exec.Command("git", "rev-parse", "--is-shallow-repository").Output(); err != nil || strings.TrimSpace(string(out)) != "false" {
		t.Logf("%s: not checking that %s is a commit of this repository: not a full git clone (%s %v)", dir, v, strings.TrimSpace(string(out)), err)
		return
	}
	cmd := exec.Command("git", "log", "-1", "--format=%cd", "--date=format-local:%Y%m%d%H%M%S", m[2], "--")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("%s/go.mod requires the root at %s, but commit %s is not in this repository (%v): use a commit on main", dir, v, m[2], err)
		return
	}
	if got := strings.TrimSpace(string(out)); got != m[1] {
		t.Errorf("%s/go.mod requires the root at %s, but commit %s was committed at %s UTC: the version must be v0.0.0-%s-%s", dir, v, m[2], got, got, m[2])
	}
	if err := exec.Command("git", "merge-base", "--is-ancestor", m[2], "HEAD").Run(); err != nil {
		t.Errorf("%s/go.mod requires the root at commit %s, which is not in HEAD's history (%v): use a commit on main", dir, m[2], err)
	}
}

func goJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
}
