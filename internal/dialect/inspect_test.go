package dialect

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestReadsInOrderUntilAnError(t *testing.T) {
	var ran []string
	read := func(name string, err error) func(context.Context) error {
		return func(context.Context) error {
			ran = append(ran, name)
			return err
		}
	}
	if err := Reads(context.Background(), read("tables", nil), read("checks", nil), read("columns", nil)); err != nil {
		t.Fatalf("Reads: %v", err)
	}
	if want := []string{"tables", "checks", "columns"}; !slices.Equal(ran, want) {
		t.Errorf("ran %q, want %q", ran, want)
	}
	ran = nil
	failed := errors.New("checks failed")
	err := Reads(context.Background(), read("tables", nil), read("checks", failed), read("columns", nil))
	if !errors.Is(err, failed) {
		t.Errorf("Reads returned %v, want the failing read's error", err)
	}
	if want := []string{"tables", "checks"}; !slices.Equal(ran, want) {
		t.Errorf("ran %q after a failure, want %q", ran, want)
	}
}
