package train

// A finetune's task files: read, split into training and validation
// examples and encoded, and the rows skip_bad_rows skipped, logged and
// listed in the run directory.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gptctl/data"
)

// loadData reads, splits and encodes the task files.
func (r *ftRun) loadData() error {
	t := r.cfg.Task
	f := t.TaskFormat
	f.Unreadable = data.NoCharsKnown(r.model.tok)
	list := filepath.Join(r.opt.OutDir, skippedRowsFile)
	train, err := readTaskData(t.Train, f, true, r.opt.Log, "skip_bad_rows", list)
	if err != nil {
		return r.resumedPath(r.cfg.taskFileError("train", err))
	}
	r.sum.Skipped, r.skips = train.Skipped, train
	var valEx []data.Example
	trainEx := train.Examples
	switch {
	case t.Val != "" && samePath(t.Val, t.Train):
		fmt.Fprintf(r.opt.Log, "task: warning: val %s is the training file: the validation metrics and best/ score rows the model trains on (val_fraction splits some off instead)\n", t.Val)
		valEx = train.Examples
	case t.Val != "":
		val, err := readTaskData(t.Val, f, true, r.opt.Log, "skip_bad_rows", list)
		if err != nil {
			return r.resumedPath(r.cfg.taskFileError("val", err))
		}
		valEx, r.sum.Skipped, r.valSkips = val.Examples, r.sum.Skipped+val.Skipped, val
	default:
		trainEx, valEx = data.SplitExamples(train.Examples, t.ValFraction, t.SplitSeed)
	}
	if len(trainEx) == 0 || len(valEx) == 0 {
		return inputErrorf("task %s: %d training and %d validation examples; both need at least one", t.Train, len(trainEx), len(valEx))
	}
	codec := &taskCodec{info: r.model.info, tok: r.model.tok}
	r.train, r.val = codec.encodeAll(trainEx), codec.encodeAll(valEx)
	r.sum.TrainExamples, r.sum.ValExamples, r.sum.Truncated = len(r.train), len(r.val), codec.truncated
	if note := codec.unknownNote(); note != "" {
		fmt.Fprintf(r.opt.Log, "task: %s\n", note)
	}
	r.sum.Baseline = baselineMetrics(r.model.info, r.train, r.val)
	return nil
}

// taskFileError ties a task file that cannot be read (it does not exist,
// say) to its key, task.train or task.val, and the config that set it;
// other errors, such as a bad row, name the file already.
func (c FinetuneConfig) taskFileError(key string, err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	where := "finetune"
	if c.where != "" {
		where += " " + c.where
	}
	return inputErrorf("%s: task.%s: %w", where, key, pe)
}

// resumedPath is resumedPathError for a resumed finetune's task files.
func (r *ftRun) resumedPath(err error) error {
	if !r.opt.Resume {
		return err
	}
	return resumedPathError(err, r.opt.OutDir, finetuneJobFile, r.cfg.Task.Train, r.cfg.Task.Val)
}

// skippedRowsFile, in a finetune's directory, lists the rows of its task
// files that skip_bad_rows skipped, with why.
const skippedRowsFile = "skipped_rows.txt"

// writeSkips writes the rows the run's task files skipped (r.skips and
// r.valSkips) to its skippedRowsFile, when there are any, and removes an
// earlier run's when there are none.
func (r *ftRun) writeSkips() error {
	var b strings.Builder
	for _, td := range []*data.TaskData{r.skips, r.valSkips} {
		if td == nil || td.Skipped == 0 {
			continue
		}
		for _, e := range td.Skips {
			fmt.Fprintln(&b, strings.ReplaceAll(e.Error(), "\n", " "))
		}
		if more := td.Skipped - len(td.Skips); more > 0 {
			fmt.Fprintf(&b, "%s: %d more bad rows, not listed\n", td.Path, more)
		}
	}
	path := filepath.Join(r.opt.OutDir, skippedRowsFile)
	if b.Len() == 0 { // and none of an earlier run's in the directory
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return data.WriteFile(path, []byte(b.String()))
}

// readTaskData reads a task file (its problems are input errors) and logs
// the rows skipped (f.SkipBadRows, set by the setting why names), when log
// is not nil.
func readTaskData(path string, f data.TaskFormat, needLabel bool, log io.Writer, why, list string) (*data.TaskData, error) {
	td, err := data.ReadTaskFile(path, f, needLabel)
	if err != nil {
		return nil, asInputError(err)
	}
	logSkips(td, log, why, list)
	return td, nil
}

// shownSkips is how many skipped rows a log lists.
const shownSkips = 10

// logSkips logs the rows of td skipped (the setting why names asked for
// it), the first shownSkips of them, when log is not nil; list names the
// file that lists every one, if any.
func logSkips(td *data.TaskData, log io.Writer, why, list string) {
	if td.Skipped > 0 && log != nil {
		rows := "rows"
		if td.Skipped == 1 {
			rows = "row"
		}
		fmt.Fprintf(log, "%s: skipped %d bad %s (%s):\n", td.Path, td.Skipped, rows, why)
		for _, e := range td.Skips[:min(shownSkips, len(td.Skips))] {
			fmt.Fprintf(log, "  %v\n", e)
		}
		if more := td.Skipped - min(shownSkips, len(td.Skips)); more > 0 {
			where := ""
			if list != "" {
				where = " (every one in " + list + ")"
			}
			fmt.Fprintf(log, "  and %d more%s\n", more, where)
		}
	}
}
