package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/schema"
)

// progress shows long work: a progress bar when stderr is a terminal, else a log line at most every
// progressEvery (and none of the bar's control characters in a log file).
type progress struct {
	logger *slog.Logger
	w      io.Writer
	bar    *progressbar.ProgressBar
	last   time.Time
	// A migration's or rollback's bar: the steps it goes through in order, the next one to run, and the
	// rows bar of the backfill while it runs.
	task  string
	steps []sessionsec.Step
	next  int
	rows  *progress
}

// progressEvery is how often a long task logs how far it is when stderr is not a terminal.
const progressEvery = 5 * time.Second

// isTerminal reports whether w (stderr, or stdin) is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress shows a task of total units (-1: unknown, a spinner with the count and rate); bars says
// whether to draw a bar (stderr is a terminal) or to log.
func newProgress(w io.Writer, bars bool, logger *slog.Logger, what string, total int64, unit string) *progress {
	p := &progress{logger: logger, w: w}
	throttle := 100 * time.Millisecond
	if unit == "steps" {
		// A few dozen updates: draw each, or a label change right after a count would be dropped.
		throttle = 0
	}
	if bars {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionThrottle(throttle),
			// The final state stays on screen, and whatever follows starts on a line of its own.
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		// The rate is work over time since the bar started: start the clock now, when the work starts,
		// not at the first report, which would divide a whole batch by a few microseconds. (Drawing
		// the blank bar - OptionSetRenderBlankState - would start it too, but leaves the rate's own
		// sampling clock unset, so its first sample would count that batch again.)
		p.bar.StartWithoutRender()
		_ = p.bar.RenderBlank()
	}
	return p
}

// report takes a task's progress reports: Done is the task's total so far.
func (p *progress) report(pr sessionsec.Progress) {
	if p.bar != nil {
		if pr.Total > 0 && pr.Total != p.bar.GetMax64() {
			p.bar.ChangeMax64(pr.Total) // the estimate firms up as the batches go
		}
		_ = p.bar.Set64(pr.Done)
		return
	}
	// A task's final count is its result.
	if pr.Final || time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	rate := float64(pr.Done) / max(pr.Elapsed.Seconds(), 1e-3)
	p.logger.Info("sessionsec: "+pr.Task, "done", pr.Done, "per_second", int64(rate), "elapsed", pr.Elapsed.Round(time.Second))
}

// finish leaves the bar's final state on screen: complete when the work succeeded, where it stopped
// when it failed.
func (p *progress) finish(err error) {
	if p.rows != nil {
		p.rows.finish(err)
		p.rows = nil
	}
	if p.bar == nil || p.bar.IsFinished() {
		return
	}
	if err == nil {
		if p.task != "" {
			p.bar.Describe(p.task + ": done")
		}
		_ = p.bar.Finish()
		return
	}
	_ = p.bar.Exit()
	fmt.Fprintln(p.w)
}

// stepsToRun is the steps a migration (up) or rollback will go through, in order, as st says: the
// pending ones (every one with reapply), or the applied ones newest first down to target.
func stepsToRun(st *sessionsec.MigrationStatus, what string, reapply bool, target uint) []sessionsec.Step {
	if st == nil {
		return nil
	}
	if what == "rollback" {
		var down []sessionsec.Step
		for _, s := range slices.Backward(st.Applied) {
			if s.Version > target {
				down = append(down, s)
			}
		}
		return down
	}
	if reapply {
		return append(slices.Clone(st.Applied), st.Pending...)
	}
	return st.Pending
}

// stepsProgress is a bar over the steps a migration or rollback will run, labelled with the step
// running (the step log lines say the rest when stderr is not a terminal).
func stepsProgress(stderr io.Writer, bars bool, what string, steps []sessionsec.Step) *progress {
	total := int64(len(steps))
	if total == 0 {
		total = -1
	}
	p := &progress{task: what, steps: steps}
	p = newProgress(stderr, bars, slog.Default(), p.label(), total, "steps")
	p.task, p.steps = what, steps
	p.startRows()
	return p
}

// label names the step running: "migrate 7/22 create_insert_trigger".
func (p *progress) label() string {
	if len(p.steps) == 0 {
		return p.task
	}
	if p.next >= len(p.steps) {
		return p.task + ": done"
	}
	return fmt.Sprintf("%s %d/%d %s", p.task, p.next+1, len(p.steps), p.steps[p.next].Name)
}

// startRows opens the rows bar when the step about to run is the backfill, so that its clock starts
// with the backfill.
func (p *progress) startRows() {
	if p.bar == nil || p.next >= len(p.steps) || p.task != "migrate" || p.steps[p.next].Version != backfillVersion() {
		return
	}
	fmt.Fprintln(p.w) // the steps bar keeps its line; the rows bar gets the next one
	p.rows = newProgress(p.w, true, p.logger, "backfill", -1, "rows")
}

// backfillVersion is the version of the step that fills pre-existing rows.
func backfillVersion() uint {
	for _, s := range schema.Steps {
		if s.Kind == schema.StepBackfill {
			return s.Version
		}
	}
	return 0
}

// migration takes a migration's or rollback's reports: a step done advances the bar and labels it with
// the next step; a batch of the backfill advances the rows bar. Elsewhere the library's own log lines
// say how far it is.
func (p *progress) migration(pr sessionsec.Progress) {
	if p.bar == nil {
		return
	}
	if pr.Unit == sessionsec.UnitRows {
		if p.rows != nil {
			p.rows.report(pr)
		}
		return
	}
	if p.rows != nil { // the backfill's step is done, with or without batches
		p.rows.finish(nil)
		p.rows = nil
	}
	if i := slices.IndexFunc(p.steps, func(s sessionsec.Step) bool { return s.Version == pr.Version }); i >= 0 {
		p.next = i + 1
	}
	// The label changes before the count is drawn: the frame that shows a step done names the next.
	p.bar.Describe(p.label())
	_ = p.bar.Add64(pr.Done)
	p.startRows()
}

// statusFor reads the status for the steps bar; a failure leaves the bar without steps (the call that
// follows reports the error).
func statusFor(ctx context.Context, p *sessionsec.Provider) *sessionsec.MigrationStatus {
	st, err := p.Status(ctx)
	if err != nil {
		return nil
	}
	return st
}
