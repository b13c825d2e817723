#!/bin/sh
# prepare-tasks.sh: the data step of the finetuning recipes (configs/finetune-*.yaml).
#
#   sh configs/prepare-tasks.sh [TASKS_DIR] [OUT_DIR]     (defaults ../shared/data/tasks runs/tasks)
#
# For RTE, STS-B and Story Cloze, which ship only a training file, every 10th
# row becomes the held-out validation file (OUT/NAME-val.*) and the rest the
# training file (OUT/NAME-train.*); SST-2 keeps its train.tsv and dev.tsv.
# OUT/text.txt is the unlabeled text of the training parts of all four tasks,
# one sentence or passage per line, labels and held-out rows left out: the
# pretraining corpus of configs/pretrain-tasks.yaml. Then a 2048-token BPE is
# trained on it (OUT/tok), shared by pretraining and every finetune.
set -eu
TASKS=${1:-../shared/data/tasks}
OUT=${2:-runs/tasks}
GPTCTL=${GPTCTL:-bin/gptctl}
for f in rte/train.tsv stsb/train.tsv storycloze/train.csv sst2/train.tsv; do
	if [ ! -f "$TASKS/$f" ]; then
		echo "prepare-tasks.sh: $TASKS/$f is missing: pass the directory of the task files as the first argument (sh configs/prepare-tasks.sh TASKS_DIR)" >&2
		exit 2
	fi
done
mkdir -p "$OUT"

# split FILE EXT NAME: row 1 is the header; rows 10, 20, ... are held out.
split() {
	awk 'NR == 1 || (NR - 1) % 10 != 0' "$1" >"$OUT/$3-train.$2"
	awk 'NR == 1 || (NR - 1) % 10 == 0' "$1" >"$OUT/$3-val.$2"
}
split "$TASKS/rte/train.tsv" tsv rte
split "$TASKS/stsb/train.tsv" tsv stsb
split "$TASKS/storycloze/train.csv" csv storycloze

{
	# SST-2: the sentence column.
	awk -F '\t' 'NR > 1 { print $1 }' "$TASKS/sst2/train.tsv"
	# RTE: premise and hypothesis; STS-B: both sentences.
	awk -F '\t' 'NR > 1 { print $1; print $2 }' "$OUT/rte-train.tsv"
	awk -F '\t' 'NR > 1 { print $8; print $9 }' "$OUT/stsb-train.tsv"
	# Story Cloze: the four sentences and both endings, one story per line
	# (RFC 4180 fields: quotes around commas, doubled quotes inside).
	awk 'NR > 1 {
		n = 0; cur = ""; q = 0
		for (i = 1; i <= length($0); i++) {
			c = substr($0, i, 1)
			if (q && c == "\"" && substr($0, i + 1, 1) == "\"") { cur = cur c; i++ }
			else if (c == "\"") q = !q
			else if (!q && c == ",") { f[++n] = cur; cur = "" }
			else cur = cur c
		}
		f[++n] = cur
		print f[1] " " f[2] " " f[3] " " f[4] " " f[5] " " f[6]
	}' "$OUT/storycloze-train.csv"
} >"$OUT/text.txt"

"$GPTCTL" tokenizer train --data "$OUT/text.txt" --vocab-size 2048 --out "$OUT/tok"
wc -l "$OUT"/*-train.* "$OUT"/*-val.* "$OUT/text.txt"
