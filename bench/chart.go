package main

// PNG charts: writer latency over time (max latency of the operations completing in each 100 ms bucket, log
// scale), naive vs library, one chart per server and table size. t = 0 is the start of each migration; the
// dashed vertical lines mark where each migration ended.

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	colNaive = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colLib   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
)

func chartName(sr *serverRes) string {
	return fmt.Sprintf("latency-%s-%d.png", sr.Server, sr.Rows)
}

// writeCharts writes one PNG per server result and returns file name -> path.
func writeCharts(res *results, dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, sr := range res.Servers {
		if sr.Lib == nil && sr.Naive == nil {
			continue
		}
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s, %s rows, %d writers x %.0f ops/s: writer latency (max per 100 ms)", sr.Version, humanRows(sr.Rows), res.Writers, res.Rate)
		p.X.Label.Text = "seconds since the migration started"
		p.Y.Label.Text = "latency (ms, log)"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Legend.Top = true
		p.Legend.Left = true
		ymin, ymax := 0.1, 1.0
		add := func(r *runRes, label string, c color.Color) error {
			if r == nil || len(r.Series) == 0 {
				return nil
			}
			// One line segment per run of non-empty buckets: a bucket in which no operation completed breaks
			// the line (a stall), and the blocked operations show up as the point where it resumes.
			var segs []plotter.XYs
			var cur plotter.XYs
			for _, pt := range r.Series {
				if pt.MaxMs <= 0 {
					if len(cur) > 0 {
						segs, cur = append(segs, cur), nil
					}
					continue
				}
				v := max(pt.MaxMs, 0.05)
				cur = append(cur, plotter.XY{X: pt.T, Y: v})
				ymax = max(ymax, v)
				ymin = min(ymin, v)
			}
			if len(cur) > 0 {
				segs = append(segs, cur)
			}
			legendDone := false
			for _, seg := range segs {
				var th plot.Thumbnailer
				if len(seg) == 1 {
					sc, err := plotter.NewScatter(seg)
					if err != nil {
						return err
					}
					sc.GlyphStyle.Color = c
					sc.GlyphStyle.Radius = vg.Points(2.5)
					sc.GlyphStyle.Shape = draw.CircleGlyph{}
					p.Add(sc)
					th = sc
				} else {
					ln, err := plotter.NewLine(seg)
					if err != nil {
						return err
					}
					ln.Color = c
					ln.Width = vg.Points(1)
					p.Add(ln)
					th = ln
				}
				if !legendDone {
					p.Legend.Add(fmt.Sprintf("%s (migration %.1f s)", label, r.WallMs/1000), th)
					legendDone = true
				}
			}
			return nil
		}
		if err := add(sr.Naive, "naive script", colNaive); err != nil {
			return out, err
		}
		if err := add(sr.Lib, "sessionsec.Migrate", colLib); err != nil {
			return out, err
		}
		for _, m := range []struct {
			r *runRes
			c color.Color
		}{{sr.Naive, colNaive}, {sr.Lib, colLib}} {
			if m.r == nil {
				continue
			}
			end := float64(m.r.MigEndNs-m.r.MigStartNs) / 1e9
			vl, err := plotter.NewLine(plotter.XYs{{X: end, Y: ymin}, {X: end, Y: ymax}})
			if err != nil {
				return out, err
			}
			vl.Color = m.c
			vl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(vl)
		}
		zero, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: ymin}, {X: 0, Y: ymax}})
		zero.Color = color.Gray{Y: 120}
		zero.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(zero)
		p.Add(plotter.NewGrid())
		p.Legend.TextStyle.Font.Size = vg.Points(9)
		p.Title.TextStyle.Font.Size = vg.Points(10)
		name := chartName(sr)
		path := filepath.Join(dir, name)
		if err := p.Save(11*vg.Inch, 4*vg.Inch, path); err != nil {
			return out, err
		}
		out[name] = path
	}
	return out, nil
}

func humanRows(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
