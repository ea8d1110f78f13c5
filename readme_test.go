package sessionsec_test

import (
	"os"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec/schema"
)

// TestREADME keeps the README's generated parts current: the schema tables are schema.Change.Markdown(),
// and the start-up snippet is examples/startup/main.go's run function, which go vet compiles.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	_, rest, _ := strings.Cut(text, "<!-- schema:start -->\n")
	section, _, found := strings.Cut(rest, "<!-- schema:end -->")
	if want := schema.Change.Markdown(); !found || section != want {
		t.Errorf("README.md's schema section differs from schema.Change.Markdown(); paste this between the markers:\n%s", want)
	}
	src, err := os.ReadFile("examples/startup/main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, snippet, _ := strings.Cut(string(src), "// README:start\n")
	snippet, _, found = strings.Cut(snippet, "\n// README:end")
	if !found || !strings.Contains(text, "```go\n"+snippet+"```") {
		t.Errorf("README.md's start-up snippet differs from examples/startup/main.go; paste:\n%s", snippet)
	}
}
