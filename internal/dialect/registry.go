package dialect

import (
	"fmt"
	"slices"
	"sync"
)

var (
	mu        sync.RWMutex
	byName    = map[string]Registration{}
	byDriver  = map[string]string{}
	importFor = map[string]string{
		// Drivers whose dialect may simply not be imported yet: the error names the import to add.
		"*mysql.MySQLDriver": "github.com/agui-go/sessionsec/mysql",
		"*pq.Driver":         "github.com/agui-go/sessionsec/postgres",
		"*stdlib.Driver":     "github.com/agui-go/sessionsec/postgres",
		"*sqlite.Driver":     "github.com/agui-go/sessionsec/sqlite",
	}
)

// Register makes a dialect available under its name and for its drivers. It is called from the
// dialect package's init and panics on a duplicate name or a driver type another dialect serves, like
// database/sql.Register.
func Register(r Registration) {
	mu.Lock()
	defer mu.Unlock()
	name := r.Name
	if name == "" {
		name = r.Dialect.Name()
	}
	if _, dup := byName[name]; dup {
		panic("sessionsec: dialect " + name + " registered twice")
	}
	for _, d := range r.Drivers {
		if other, dup := byDriver[d]; dup {
			panic("sessionsec: driver " + d + " is served by dialect " + other + " already; register " + name + " without Drivers and select it with WithDialect")
		}
	}
	byName[name] = r
	for _, d := range r.Drivers {
		byDriver[d] = name
		importFor[d] = r.Import
	}
}

// Lookup returns the dialect registered under name.
func Lookup(name string) (Dialect, bool) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := byName[name]
	return r.Dialect, ok
}

// ForDriver returns the dialect serving a database/sql driver type (fmt's %T of db.Driver()). When
// none is registered, hint names the package to import if the driver is a known one.
func ForDriver(driverType string) (d Dialect, hint string) {
	mu.RLock()
	defer mu.RUnlock()
	if name, ok := byDriver[driverType]; ok {
		return byName[name].Dialect, ""
	}
	return nil, importFor[driverType]
}

// Names lists the registered dialects.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// MustLookup is Lookup for names the caller knows are registered (tests, generators).
func MustLookup(name string) Dialect {
	d, ok := Lookup(name)
	if !ok {
		panic(fmt.Sprintf("sessionsec: dialect %q is not registered (import github.com/agui-go/sessionsec/%s)", name, name))
	}
	return d
}
