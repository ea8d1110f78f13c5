package main

// Writer statistics over time windows.
//
// Definitions (printed in BENCHMARKS.md):
//   - An operation belongs to a window when its [start, end] overlaps the window (so an op blocked by a step
//     counts in that step even when it completes later). "before" = ops that ended before the migration
//     started; "after" = ops that started after it ended.
//   - Longest stall: the longest interval between two consecutive operation completions (over all writers)
//     that overlaps the window - a time during which no writer completed anything. Reported with the max
//     single-operation latency, which is the other view of the same harm.

import (
	"math"
	"sort"
)

type winStats struct {
	Ops     int
	Errors  int
	P50Ms   float64
	P99Ms   float64
	MaxMs   float64
	StallMs float64
	OpsPerS float64
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// window computes stats of recs (sorted by End) over [a, b] ns. mode: "overlap", "endBefore", "startAfter".
func window(recs []opRec, a, b int64, mode string) winStats {
	var lat []float64
	ws := winStats{}
	for _, r := range recs {
		in := false
		switch mode {
		case "endBefore":
			in = r.End >= a && r.End < b
		case "startAfter":
			in = r.Start > a && r.Start <= b
		default:
			in = r.End >= a && r.Start <= b
		}
		if !in {
			continue
		}
		ws.Ops++
		if r.Err {
			ws.Errors++
		}
		lat = append(lat, float64(r.End-r.Start)/1e6)
	}
	sort.Float64s(lat)
	ws.P50Ms = pct(lat, 0.50)
	ws.P99Ms = pct(lat, 0.99)
	if len(lat) > 0 {
		ws.MaxMs = lat[len(lat)-1]
	}
	ws.StallMs = longestGap(recs, a, b)
	if b > a {
		ws.OpsPerS = float64(ws.Ops) / (float64(b-a) / 1e9)
	}
	return ws
}

// longestGap: longest interval between consecutive completions (recs sorted by End) that overlaps [a, b].
func longestGap(recs []opRec, a, b int64) float64 {
	var best int64
	for i := 1; i < len(recs); i++ {
		g0, g1 := recs[i-1].End, recs[i].End
		if g1 < a || g0 > b {
			continue
		}
		best = max(best, g1-g0)
	}
	return float64(best) / 1e6
}

// point is one chart bucket: time (s, relative to migration start), max and p50 latency of ops ending in it.
type point struct {
	T     float64
	MaxMs float64
	P50Ms float64
	Ops   int
}

func series(recs []opRec, origin int64, bucket int64) []point {
	if len(recs) == 0 {
		return nil
	}
	var out []point
	var cur []float64
	curB := recs[0].End / bucket
	flush := func(b int64) {
		sort.Float64s(cur)
		out = append(out, point{T: float64(b*bucket-origin) / 1e9, MaxMs: cur[len(cur)-1], P50Ms: pct(cur, 0.5), Ops: len(cur)})
		cur = cur[:0]
	}
	for _, r := range recs {
		b := r.End / bucket
		if b != curB {
			flush(curB)
			// Empty buckets in between: nothing completed (a stall).
			for e := curB + 1; e < b; e++ {
				out = append(out, point{T: float64(e*bucket-origin) / 1e9})
			}
			curB = b
		}
		cur = append(cur, float64(r.End-r.Start)/1e6)
	}
	flush(curB)
	return out
}
