package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"

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

// figure is a chart drawn: the plot, and, when its legend has more
// entries than fit over the lines, the legend in columns below it (beside
// it, the chart would be shrunk to fit the report's page).
type figure struct {
	p     *plot.Plot
	below []plot.Legend // the columns, left to right
	colW  vg.Length     // their pitch
}

// insideLegend is the most legend entries drawn over the plot.
const insideLegend = 8

// legendGap is the space around the legend below a plot and between its
// columns.
const legendGap = 10

// plot draws the chart with one colour per run.
func (c chart) plot(runs []*Run, labels []string) (*figure, error) {
	p := c.newPlot()
	entries, ys, err := c.addLines(p, runs, labels)
	if err != nil {
		return nil, err
	}
	if useLogScale(ys) {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.TickerFunc(logTicks)
		p.Y.Label.Text += " (log scale)"
	} else {
		p.Y.Min, p.Y.Max = valueRange(p.Y.Min, p.Y.Max)
	}
	f := &figure{p: p}
	if len(entries) <= insideLegend {
		for _, e := range entries {
			p.Legend.Add(e.label, e.thumbs...)
		}
		return f, nil
	}
	f.legendBelow(entries)
	return f, nil
}

// newPlot is the chart's empty plot: titles, ticks, grid and fonts, with
// the legend on the side away from where the lines head.
func (c chart) newPlot() *plot.Plot {
	p := plot.New()
	p.Title.Text = c.title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = "step"
	p.Y.Label.Text = c.ylabel
	p.X.Tick.Marker = plot.TickerFunc(stepTicks)
	p.Y.Tick.Marker = plot.TickerFunc(valueTicks)
	p.Add(plotter.NewGrid())
	sans(&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font)
	p.Legend.Top = !HigherIsBetter(slices.Concat(c.metrics, c.finetune)[0])
	p.Legend.ThumbnailWidth = vg.Points(24)
	return p
}

// legendEntry is one line's entry in the legend: its label and the
// thumbnails drawn beside it.
type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
}

// addLines adds to p a line for each of the chart's metrics in each run,
// skipping series with nothing to draw. It returns their legend entries
// in order and every value drawn.
func (c chart) addLines(p *plot.Plot, runs []*Run, labels []string) ([]legendEntry, []float64, error) {
	var entries []legendEntry
	var ys []float64
	for i, r := range runs {
		metrics := c.lines(r)
		for j, m := range metrics {
			xys := finite(r.Series[m])
			if len(xys) == 0 {
				continue
			}
			for _, xy := range xys {
				ys = append(ys, xy.Y)
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, nil, fmt.Errorf("report: plot %s of run %s: %w", m, r.Name, err)
			}
			col, dash := lineStyle(i, j)
			line.Color, line.Width, line.Dashes = col, vg.Points(1.5), dash
			p.Add(line)
			label := labels[i]
			if len(metrics) > 1 {
				label += " " + legendName(r, m)
			}
			if len(xys) <= 40 { // sparse series, such as evaluations: mark each point
				points.Color, points.Shape, points.Radius = col, draw.CircleGlyph{}, vg.Points(2.5)
				p.Add(points)
				entries = append(entries, legendEntry{label, []plot.Thumbnailer{line, points}})
			} else {
				entries = append(entries, legendEntry{label, []plot.Thumbnailer{line}})
			}
		}
	}
	return entries, ys, nil
}

// legendBelow lays the entries out in columns below the plot: columns as
// wide as the widest entry, as many as fit across the plot, filled top to
// bottom.
func (f *figure) legendBelow(entries []legendEntry) {
	all := f.p.Legend
	all.Top, all.Left = true, true
	for _, e := range entries {
		all.Add(e.label, e.thumbs...)
	}
	f.colW = all.Rectangle(draw.Canvas{}).Size().X + legendGap
	cols := max(1, min(len(entries), int((plotW-legendGap)/f.colW)))
	rows := (len(entries) + cols - 1) / cols
	for i, e := range entries {
		if i%rows == 0 {
			col := f.p.Legend
			col.Top, col.Left = true, true
			f.below = append(f.below, col)
		}
		f.below[len(f.below)-1].Add(e.label, e.thumbs...)
	}
}

// belowHeight is the height the legend below the plot takes, 0 without one.
func (f *figure) belowHeight() vg.Length {
	if len(f.below) == 0 {
		return 0
	}
	return f.below[0].Rectangle(draw.Canvas{}).Size().Y + 2*legendGap // the first column is the longest
}

// draw draws the figure on c: the plot, and under it the legend's columns.
func (f *figure) draw(c draw.Canvas) {
	h := f.belowHeight()
	f.p.Draw(draw.Crop(c, 0, 0, h, 0))
	for i := range f.below {
		x := c.Min.X + legendGap + vg.Length(i)*f.colW
		f.below[i].Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: c.Min.Y}, Max: vg.Point{X: x + f.colW, Y: c.Min.Y + h - legendGap}}})
	}
}

// lineStyle is the colour and dashes of run i's metric j: one colour a
// run, its first metric solid and its others dashed, and past the
// palette's ten colours, dotted and dash-dotted: 20 runs are told apart.
func lineStyle(i, j int) (color.Color, []vg.Length) {
	return palette[i%len(palette)], dashes[(2*(i/len(palette))+min(j, 1))%len(dashes)]
}

var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(1.5), vg.Points(2.5)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
}

// finite returns the points of s that can be drawn: plotter refuses NaN and
// infinities, which a Run built in memory may hold.
func finite(s []Point) plotter.XYs {
	xys := make(plotter.XYs, 0, len(s))
	for _, pt := range s {
		if !math.IsNaN(pt.Value) && !math.IsInf(pt.Value, 0) {
			xys = append(xys, plotter.XY{X: float64(pt.Step), Y: pt.Value})
		}
	}
	return xys
}

// sans switches fonts to Liberation Sans, easier to read on a screen.
func sans(fonts ...*font.Font) {
	for _, f := range fonts {
		f.Variant = "Sans"
	}
}

// encode renders f as "png" or "svg": plotW x plotH, taller by a legend
// below the plot.
func encode(f *figure, format string) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	h := plotH + f.belowHeight()
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(plotW, h), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
		f.draw(draw.New(c))
		_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(&buf)
	case "svg":
		c := vgsvg.New(plotW, h)
		f.draw(draw.New(c))
		_, err = c.WriteTo(&buf)
	default:
		err = fmt.Errorf("unknown image format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("report: render %s: %w", format, err)
	}
	return buf.Bytes(), nil
}
