//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// tryLock takes the lock without waiting: flock on the lock file, or the in-process lock of an
// in-memory database.
func tryLock(key string) (release func() error, ok bool, err error) {
	if strings.HasPrefix(key, "memory:") {
		r, ok := tryLockMemory(key)
		return r, ok, nil
	}
	f, err := os.OpenFile(key, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: opening the lock file next to the database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("sqlite: locking %s: %w", key, err)
	}
	return func() error {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}, true, nil
}
