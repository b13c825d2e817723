package report

import (
	"bytes"
	"fmt"
	"image/color"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot size; PNGs are drawn at pngDPI (1000 x 560 pixels).
const (
	plotW  = 8.33 * vg.Inch
	plotH  = 4.67 * vg.Inch
	pngDPI = 120
)

// palette is matplotlib's tab10: one colour per run, in order.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// chart is one figure: the metrics it draws and the file name it gets.
type chart struct {
	file    string // base name without extension
	title   string
	ylabel  string
	metrics []string // drawn solid, dashed, ... per run
}

// charts lists the figures for runs: loss, lr, then every other metric.
func charts(runs []*Run) []chart {
	present := map[string]bool{}
	for _, r := range runs {
		for k := range r.Series {
			present[k] = true
		}
	}
	var out []chart
	if present["train_loss"] || present["val_loss"] {
		out = append(out, chart{"loss", "Loss", "loss", []string{"train_loss", "val_loss"}})
	}
	if present["lr"] {
		out = append(out, chart{"lr", "Learning rate", "lr", []string{"lr"}})
	}
	for _, r := range runs {
		for _, k := range r.Metrics() {
			if k != "train_loss" && k != "val_loss" && k != "lr" && present[k] {
				out = append(out, chart{fileName(k), k, k, []string{k}})
				present[k] = false
			}
		}
	}
	return out
}

// fileName keeps letters, digits, '-', '_' and '.' of a metric name.
func fileName(metric string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, metric)
	switch name {
	case "loss", "lr", "report":
		name = "metric_" + name
	}
	return name
}

// plot draws the chart with one colour per run.
func (c chart) plot(runs []*Run, labels []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = "step"
	p.Y.Label.Text = c.ylabel
	p.X.Tick.Marker = plot.TickerFunc(stepTicks)
	p.Add(plotter.NewGrid())
	sans(&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font)
	p.Legend.Top = !HigherIsBetter(c.metrics[0])
	p.Legend.ThumbnailWidth = vg.Points(24)
	for i, r := range runs {
		for j, m := range c.metrics {
			s := r.Series[m]
			if len(s) == 0 {
				continue
			}
			xys := make(plotter.XYs, len(s))
			for k, pt := range s {
				xys[k] = plotter.XY{X: float64(pt.Step), Y: pt.Value}
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, fmt.Errorf("report: plot %s of run %s: %w", m, r.Name, err)
			}
			col := palette[i%len(palette)]
			line.Color, line.Width = col, vg.Points(1.5)
			if j > 0 {
				line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			p.Add(line)
			label := labels[i]
			if len(c.metrics) > 1 {
				label += " " + strings.TrimSuffix(m, "_loss")
			}
			if len(s) <= 40 { // sparse series, such as evaluations: mark each point
				points.Color, points.Shape, points.Radius = col, draw.CircleGlyph{}, vg.Points(2.5)
				p.Add(points)
				p.Legend.Add(label, line, points)
			} else {
				p.Legend.Add(label, line)
			}
		}
	}
	return p, nil
}

// sans switches fonts to Liberation Sans, easier to read on a screen.
func sans(fonts ...*font.Font) {
	for _, f := range fonts {
		f.Variant = "Sans"
	}
}

// stepTicks labels steps as integers: "2500", not "2500.00".
func stepTicks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
	}
	return ticks
}

// encode renders p as "png" or "svg".
func encode(p *plot.Plot, format string) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(plotW, plotH), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
		p.Draw(draw.New(c))
		_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(&buf)
	case "svg":
		c := vgsvg.New(plotW, plotH)
		p.Draw(draw.New(c))
		_, err = c.WriteTo(&buf)
	default:
		err = fmt.Errorf("unknown image format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("report: render %s: %w", format, err)
	}
	return buf.Bytes(), nil
}
