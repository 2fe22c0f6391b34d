#pragma once
// Alternatives for graded knowledge probes. An evaluation item may list its own
// "candidates"; a task folder may hold candidates.json, which gives whole sets by the
// value of one field of each item, e.g. every birth city for the synthetic world's
// questions with "attribute": "birth_city":
//   {"field": "attribute", "sets": {"birth_city": ["Akron, OH.", ...], ...}}
// The rank of the expected answer among its set is then a probe whose chance level is
// known (1 / set size), as in LAMA-style probing.

#include "text/ChatDataset.h"

#include <map>
#include <string>
#include <vector>

namespace nugget {

inline constexpr const char *kCandidatesFile = "candidates.json";

struct CandidateSets
{
    std::string field;   // the item field whose value names the set
    std::map<std::string, std::vector<std::string>> sets;
};

// Throws Error naming the file for anything but the layout above (an empty or
// duplicated answer in a set, an unknown key).
CandidateSets readCandidateSets(const std::string &path);

// Every example without candidates of its own takes the set named by its field value
// (none when it has no such field or no set has that name). Throws Error
// "SOURCE:LINE: ..." when an example's expected answer is not among its candidates.
void attachCandidates(std::vector<ChatExample> &examples, const CandidateSets &sets, const std::string &source);

// The examples of a task file for evaluation: readChatJsonl, the candidates.json in the
// same folder when there is one, and the check above. Throws Error for an empty file.
std::vector<ChatExample> readEvaluationItems(const std::string &path);

} // namespace nugget
