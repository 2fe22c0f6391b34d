#pragma once
// One JSON object per evaluated item, the same wherever it is written: `nugget-cli eval
// --items`, a session's /runs/<name>/items, an experiment's items-<condition>-<seed>.jsonl.
// Keys (docs/evaluation-records.md): id, prompt, expected, predicted, correct,
// answer_logprob, answer_tokens, answer_token_ids, answer_token_logprobs; with
// alternatives also rank, reciprocal_rank, candidates and candidate_logprobs; then the
// item's own input fields (a field named like one of these keys is kept as "input_<key>").

#include "eval/TaskEvaluation.h"

#include <ATen/ATen.h>
#include <QByteArray>
#include <QJsonObject>

#include <string>
#include <vector>

namespace nugget {

QJsonObject itemRecord(const EvalItem &item);
// The inverse of itemRecord. Throws Error naming `source` for a missing or mistyped key.
EvalItem itemFromRecord(const QJsonObject &record, const std::string &source);

// The numbers of each item as a table for sessions: correct (0/1), answer_logprob,
// answer_tokens, rank (0: no alternatives). float64 [items, 4].
const std::vector<std::string> &itemScoreColumns();
at::Tensor itemScoreTable(const std::vector<EvalItem> &items);

// One compact JSON line per item, each ending in '\n'.
QByteArray itemRecordsJsonl(const std::vector<EvalItem> &items);
// Lines as written above (blank lines skipped). Throws Error "SOURCE:LINE: ...".
std::vector<EvalItem> parseItemRecordsJsonl(const QByteArray &text, const std::string &source);

} // namespace nugget
