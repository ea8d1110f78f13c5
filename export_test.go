package sessionsec

// WithStepHook exposes the fault-injection hook to the external test package.
var WithStepHook = withStepHook
