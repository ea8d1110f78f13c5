package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/agui-go/sessionsec"
)

// age is a flag of a duration that also takes days ("90d"), the unit retention is spoken in.
type age time.Duration

func (a *age) String() string { return time.Duration(*a).String() }

func (a *age) Set(s string) error {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return fmt.Errorf("want a whole number of days, e.g. 90d")
		}
		*a = age(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration, e.g. 90d or 720h")
	}
	*a = age(d)
	return nil
}

// maintain runs a maintenance task, logging its progress at most every few seconds (and when it ends).
func maintain(ctx context.Context, p *sessionsec.Provider, cmd string, o options, stderr io.Writer) (*result, error) {
	logger := slog.Default()
	var call []sessionsec.Option
	if o.batch != 0 {
		call = append(call, sessionsec.WithBatchSize(o.batch))
	}
	if o.olderThan != 0 {
		call = append(call, sessionsec.WithOlderThan(time.Duration(o.olderThan)))
	}
	bar := newProgress(stderr, isTerminal(stderr), logger, cmd, -1, "rows")
	call = append(call, sessionsec.WithProgress(bar.report))
	var res *sessionsec.MaintenanceResult
	var err error
	defer func() { bar.finish(err) }()
	switch cmd {
	case "cleanup":
		res, err = p.Cleanup(ctx, call...)
	case "risk":
		res, err = p.UpdateRiskScores(ctx, call...)
	case "archive":
		res, err = p.Archive(ctx, call...)
	case "prune-audit":
		res, err = p.PruneAudit(ctx, call...)
	}
	return &result{Task: res}, err
}
