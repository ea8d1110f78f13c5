//go:build !unix

package sqlite

// tryLock takes the lock without waiting. Without flock(2) the lock excludes the pools of this process
// only; run one migrating process at a time on such a system.
func tryLock(key string) (release func() error, ok bool, err error) {
	r, ok := tryLockMemory(key)
	return r, ok, nil
}
