package sessionsec_test

import (
	"os"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec/schema"
)

// TestREADMESchemaSection keeps the README's schema tables identical to schema.Expected.
func TestREADMESchemaSection(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := schema.Expected.Markdown(); !strings.Contains(string(readme), want) {
		t.Fatalf("README.md's schema section differs from schema.Expected.Markdown(); paste this:\n%s", want)
	}
}
