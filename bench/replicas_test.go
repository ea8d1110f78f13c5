package main

import (
	"log/slog"
	"math"
	"testing"
	"time"
)

// TestLagWindow: the lag over a window holds each read's lag until the next read; failed reads count apart
// and are no lag; replication paused from outside is timed the same way.
func TestLagWindow(t *testing.T) {
	ms := int64(time.Millisecond)
	recs := []lagRec{
		{AtNs: 0, LagMs: 50},
		{AtNs: 100 * ms, LagMs: 1200},
		{AtNs: 200 * ms, LagMs: 1500, Paused: true},
		{AtNs: 300 * ms, LagMs: -1},
		{AtNs: 400 * ms, LagMs: 900},
		{AtNs: 500 * ms, LagMs: 3000}, // outside the window
	}
	w := lagWindow(recs, 50*ms, 450*ms, time.Second)
	if w.Samples != 4 || w.Errors != 1 {
		t.Errorf("samples %d errors %d, want 4 and 1", w.Samples, w.Errors)
	}
	if w.MaxLagMs != 1500 || w.MaxAtNs != 200*ms {
		t.Errorf("max %v at %d, want 1500 at 200 ms", w.MaxLagMs, w.MaxAtNs)
	}
	if math.Abs(w.OverBoundMs-200) > 1e-9 {
		t.Errorf("over the bound %v ms, want 200 (two reads over 1 s, 100 ms each)", w.OverBoundMs)
	}
	if math.Abs(w.PausedMs-100) > 1e-9 {
		t.Errorf("paused %v ms, want 100", w.PausedMs)
	}
	if w.P50LagMs != 1200 || w.P99LagMs != 1500 {
		t.Errorf("p50 %v p99 %v, want 1200 and 1500", w.P50LagMs, w.P99LagMs)
	}
	// The last read in the window holds until the window's end.
	if w := lagWindow(recs, 350*ms, 450*ms, 500*time.Millisecond); math.Abs(w.OverBoundMs-50) > 1e-9 {
		t.Errorf("over the bound at the window's end: %v ms, want 50", w.OverBoundMs)
	}
	if w := lagWindow(recs, 600*ms, 700*ms, time.Second); w.Samples != 0 || w.MaxLagMs != 0 {
		t.Errorf("empty window: %+v", w)
	}
}

// TestWaitRecorder: the library's end-of-pause records are counted with their wait and step, and its
// warnings kept; other records are not pauses.
func TestWaitRecorder(t *testing.T) {
	wr := &waitRecorder{t0: time.Now()}
	log := slog.New(wr)
	log.Info("sessionsec: pausing until the replica catches up", "step", "backfill", "waited", time.Second)
	log.Info("sessionsec: replicas caught up; resuming", "task", "migrate", "step", "backfill", "waited", 1500*time.Millisecond)
	log.Info("sessionsec: replicas caught up; resuming", "step", "idx_sessions_ip_hash", "waited", 250*time.Millisecond)
	log.Warn("sessionsec: pausing: a replica cannot be read, so its lag is unknown", "replica", "replica 1")
	if len(wr.waits) != 2 || wr.waits[0].Step != "backfill" || wr.waits[0].WaitedMs != 1500 || wr.waits[1].WaitedMs != 250 {
		t.Errorf("waits %+v", wr.waits)
	}
	if len(wr.warnings) != 1 {
		t.Errorf("warnings %q", wr.warnings)
	}
}
