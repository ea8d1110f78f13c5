package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/agui-go/sessionsec"
)

// progress shows long work: a progress bar when stderr is a terminal, else a log line at most every
// progressEvery (and none of the bar's control characters in a log file).
type progress struct {
	logger *slog.Logger
	bar    *progressbar.ProgressBar
	last   time.Time
	rows   *progress // the rows of the running step (the backfill), under the steps
}

// progressEvery is how often a long task logs how far it is when stderr is not a terminal.
const progressEvery = 5 * time.Second

// isTerminal reports whether w (stderr, or stdin) is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress shows a task of total units (-1: unknown, a spinner with the count and rate).
func newProgress(stderr io.Writer, logger *slog.Logger, what string, total int64, unit string) *progress {
	p := &progress{logger: logger}
	if isTerminal(stderr) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// report takes the library's progress reports: a step finished (Done = its count) or a batch ended
// (Done = the task's total so far).
func (p *progress) report(pr sessionsec.Progress, absolute bool) {
	if p.bar != nil {
		if absolute {
			if pr.Total > 0 && pr.Total != p.bar.GetMax64() {
				p.bar.ChangeMax64(pr.Total) // the estimate firms up as the batches go
			}
			_ = p.bar.Set64(pr.Done)
		} else {
			_ = p.bar.Add64(pr.Done)
		}
		if pr.Step != "" && !absolute {
			p.bar.Describe(pr.Task + " " + pr.Step)
		}
		return
	}
	// Steps have their own log lines; a task's final count is its result.
	if !absolute || pr.Final || time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	rate := float64(pr.Done) / max(pr.Elapsed.Seconds(), 1e-3)
	p.logger.Info("sessionsec: "+pr.Task, "done", pr.Done, "per_second", int64(rate), "elapsed", pr.Elapsed.Round(time.Second))
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// stepsProgress is a bar over the steps a migration or rollback will run (the step log lines say the
// rest when stderr is not a terminal).
func stepsProgress(ctx context.Context, p *sessionsec.Provider, stderr io.Writer, what string) *progress {
	total := int64(-1)
	if st, err := p.Status(ctx); err == nil {
		total = int64(len(st.Pending))
		if what == "rollback" {
			total = int64(len(st.Applied))
		}
	}
	return newProgress(stderr, slog.Default(), what, total, "steps")
}

// migration takes a migration's or rollback's reports: steps advance this bar; a step's batches (the
// backfill) show on a rows bar of their own while it runs, on a terminal. Elsewhere the library's own
// log lines say how far the backfill is.
func (p *progress) migration(stderr io.Writer) func(sessionsec.Progress) {
	return func(pr sessionsec.Progress) {
		if pr.Unit != sessionsec.UnitRows {
			p.report(pr, false)
			return
		}
		if p.bar == nil {
			return
		}
		if p.rows == nil {
			p.rows = newProgress(stderr, p.logger, pr.Step, pr.Total, "rows")
		}
		p.rows.report(pr, true)
		if pr.Final {
			p.rows.finish()
			p.rows = nil
		}
	}
}
