package sessionsec

// Test-only hooks for the external test package.
var (
	WithStepHook      = withStepHook
	WithExtraSteps    = withExtraSteps
	WithNow           = withNow
	WithBackfillBatch = withBackfillBatch
)

// SplitOptions parts opts as a package-level function does: New's options, then the call's.
func SplitOptions(opts []Option) (handle, call []Option) {
	for _, o := range opts {
		if o.ops&opHandle != 0 {
			handle = append(handle, o)
		} else {
			call = append(call, o)
		}
	}
	return handle, call
}
