package train

import (
	"maps"
	"math"
	"slices"
	"testing"

	"gptctl/graph"
)

// The validation metrics a finetune reports are the README's: for two
// classes the F1 of the second entry of labels: (index 1), for more the
// macro F1, for multiple choice with two options the F1 of "the right
// option is option1"; for scores Pearson, Spearman and the MSE, each under
// its own name. A user reading val_f1 or val_pearson gets that number, not
// another metric's. The wanted values were computed by hand and checked
// with numpy, not with this package's functions.
func TestTaskMetricsWiring(t *testing.T) {
	nan := float32(math.NaN())
	lbl := func(labels ...int32) []taskExample {
		exs := make([]taskExample, len(labels))
		for i, l := range labels {
			exs[i] = taskExample{label: l, score: nan}
		}
		return exs
	}
	cases := []struct {
		name string
		info *TaskInfo
		exs  []taskExample
		outs [][]float64
		want map[string]float64
	}{{
		// gold 1 1 1 0 0 0 0 1, predicted 1 1 0 0 0 1 0 0 (and an
		// unlabeled row, predicted 1, that counts for nothing).
		// Class 1: tp=2 fp=1 fn=2, F1 4/7 = 0.5714 (class 0's is 2/3,
		// the macro 0.6190). MCC (tp*tn-fp*fn)/sqrt(3*4*4*5) = 4/sqrt(240).
		// Loss: the mean -log of 0.9 0.6 0.3 0.8 0.6 0.3 0.9 0.45.
		name: "binary classification",
		info: &TaskInfo{Objective: graph.Classify, Labels: []string{"neg", "pos"}},
		exs:  lbl(1, 1, 1, 0, 0, 0, 0, 1, -1),
		outs: [][]float64{{0.1, 0.9}, {0.4, 0.6}, {0.7, 0.3}, {0.8, 0.2}, {0.6, 0.4}, {0.3, 0.7}, {0.9, 0.1}, {0.55, 0.45}, {0.05, 0.95}},
		want: map[string]float64{"accuracy": 0.625, "f1": 4.0 / 7, "mcc": 4 / math.Sqrt(240), "loss": 0.5827461418789359},
	}, {
		// gold 0 0 1 1 2 2 2 1 0 2, predicted 0 1 1 2 2 2 2 0 0 1: class
		// F1s 2/3, 1/3 and 3/4, macro 7/12 = 0.5833. MCC, c=6 s=10
		// t=p=(3,3,4): (60-34)/(100-34) = 26/66. Loss (6 ln 2 + 4 ln 4)/10.
		name: "three classes",
		info: &TaskInfo{Objective: graph.Classify, Labels: []string{"a", "b", "c"}},
		exs:  lbl(0, 0, 1, 1, 2, 2, 2, 1, 0, 2),
		outs: [][]float64{{0.5, 0.25, 0.25}, {0.25, 0.5, 0.25}, {0.25, 0.5, 0.25}, {0.25, 0.25, 0.5}, {0.25, 0.25, 0.5},
			{0.25, 0.25, 0.5}, {0.25, 0.25, 0.5}, {0.5, 0.25, 0.25}, {0.5, 0.25, 0.25}, {0.25, 0.5, 0.25}},
		want: map[string]float64{"accuracy": 0.6, "f1": 7.0 / 12, "mcc": 26.0 / 66, "loss": 1.4 * math.Ln2},
	}, {
		// Right options 1 0 1 1 0 0 0, chosen 1 1 1 1 0 0 1: "option1 is
		// right" has tp=3 fp=2 fn=0, F1 6/8 (option0's is 2/3). MCC
		// 6/sqrt(5*3*4*2).
		name: "multiple choice of two options",
		info: &TaskInfo{Objective: graph.Choose, NumOptions: 2},
		exs:  lbl(1, 0, 1, 1, 0, 0, 0),
		outs: [][]float64{{0.2, 0.8}, {0.45, 0.55}, {0.3, 0.7}, {0.1, 0.9}, {0.7, 0.3}, {0.8, 0.2}, {0.4, 0.6}},
		want: map[string]float64{"accuracy": 5.0 / 7, "f1": 0.75, "mcc": 6 / math.Sqrt(120), "loss": 0.42568513346509107},
	}, {
		// Scores 0.5 1 2 2 3.5 4 5, predicted 1.25 0.75 2.5 3 3 4.75 9
		// (and a row without a score, predicted 100, left out). The
		// outlier keeps Pearson (0.8984) well below Spearman: ranks
		// (2 1 3 4.5 4.5 6 7) and (1 2 3.5 3.5 5 6 7), 0.9364. MSE
		// 18.6875/7.
		name: "regression",
		info: &TaskInfo{Objective: graph.Regress},
		exs: []taskExample{{label: -1, score: 0.5}, {label: -1, score: 1}, {label: -1, score: 2}, {label: -1, score: 2},
			{label: -1, score: 3.5}, {label: -1, score: 4}, {label: -1, score: nan}, {label: -1, score: 5}},
		outs: [][]float64{{1.25}, {0.75}, {2.5}, {3}, {3}, {4.75}, {100}, {9}},
		want: map[string]float64{"pearson": 0.8984463131265669, "spearman": 0.9363636363636364, "mse": 18.6875 / 7, "loss": 18.6875 / 7},
	}}
	for _, c := range cases {
		got := taskMetrics(c.info, c.exs, c.outs)
		if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(c.want)); !slices.Equal(g, w) {
			t.Errorf("%s: metrics %v, want %v", c.name, g, w)
		}
		for _, k := range slices.Sorted(maps.Keys(c.want)) {
			if v, ok := got[k]; !ok || math.Abs(v-c.want[k]) > 1e-12 {
				t.Errorf("%s: %s = %.10f, want %.10f", c.name, k, v, c.want[k])
			}
		}
	}
}
