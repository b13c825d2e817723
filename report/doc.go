// Package report turns run directories into plots and pages: LoadRun reads a
// run's metrics.jsonl and summary.json, Render draws PNG/SVG charts and a self-contained
// HTML report, and EventWriter writes the same scalars as TensorBoard event files.
package report
