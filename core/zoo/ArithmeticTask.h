#pragma once
// Short multi-step arithmetic word problems with worked answers in the style of the GSM
// reference data: user "Answer the following question.\n\nQuestion: ...", assistant
// "Answer: ... 12+7=19 ... So the answer is 19." Every quantity, intermediate or final,
// is an integer in [0, kArithmeticLimit).

#include "zoo/ZooCommon.h"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace nugget::zoo {

inline constexpr int kMaxArithmeticSteps = 4;
inline constexpr int64_t kArithmeticLimit = 1000;
inline constexpr const char *kArithmeticInstruction = "Answer the following question.";
inline constexpr const char *kArithmeticDataset = "arith";

enum class ArithmeticOp { Add, Subtract, Multiply, Divide };

struct ArithmeticStep
{
    int64_t left = 0;
    ArithmeticOp op = ArithmeticOp::Add;
    int64_t right = 0;
    int64_t result = 0;

    char symbol() const;            // '+', '-', '*', '/'
    std::string equation() const;   // "12+7=19"
};

struct ArithmeticProblem
{
    std::string question;   // the word problem, without the instruction line
    std::string solution;   // "Answer: ... So the answer is N."
    std::vector<ArithmeticStep> steps;   // one per worked equation, chained
    int64_t answer = 0;     // result of the last step

    // Instruction + question / solution as one example, id "arith_<index>".
    ChatItem chatItem(int64_t index) const;
};

// One problem of exactly `steps` (1 - kMaxArithmeticSteps) steps: each step is one
// sentence of the story and one worked equation; step i+1 starts from step i's result.
ArithmeticProblem generateArithmeticProblem(int steps, WorldRng &rng);

// `count` problems with pairwise different questions, each with a number of steps drawn
// uniformly from [minSteps, maxSteps]. Questions in `usedQuestions` are avoided and the
// new ones are added to it. Throws Error when no new problems can be found.
std::vector<ArithmeticProblem> generateArithmeticProblems(
    int count, int minSteps, int maxSteps, WorldRng &rng,
    std::unordered_set<std::string> &usedQuestions);

// The N of the last "So the answer is N." in `text` (a model's output or a solution),
// or nothing.
std::optional<int64_t> finalAnswer(const std::string &text);

// Every "a<op>b=c" equation in `text`, with the written result (not recomputed).
std::vector<ArithmeticStep> parseEquations(const std::string &text);

} // namespace nugget::zoo
