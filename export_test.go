package sessionsec

// Test-only hooks for the external test package.
var (
	WithStepHook      = withStepHook
	WithExtraSteps    = withExtraSteps
	WithNow           = withNow
	WithBackfillBatch = withBackfillBatch
)
