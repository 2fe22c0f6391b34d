#include "zoo/ArithmeticTask.h"

#include "Error.h"
#include "zoo/WorldNames.h"

#include <algorithm>
#include <map>

namespace nugget::zoo {

namespace {

// One story setting. Placeholders: {name}; {a}, {b}, {r} (left operand, right operand,
// result); {eq} ("a<op>b=r"); {a_n}, {b_n} (a number with its noun); {noun_b}, {noun_r}
// (the noun agreeing with b or r); {items} (the plural noun).
struct Theme
{
    const char *singular;
    const char *plural;
    const char *start;       // the story starts from a plain count a (no step)
    const char *startWork;
    const char *box;         // or from a groups of b items (a multiplication step)
    const char *boxWork;
    const char *add;
    const char *addWork;
    const char *subtract;
    const char *subtractWork;
    const char *multiply;
    const char *multiplyWork;
    const char *divide;
    const char *divideWork;
    const char *ask;
};

const std::vector<Theme> &themes()
{
    static const std::vector<Theme> values = {
        {"apple", "apples",
         "{name} has {a_n}.", "{name} starts with {a_n}.",
         "{name} buys {a} bags of apples with {b_n} in each bag.",
         "{name} buys {eq} {noun_r}.",
         "Then {name} buys {b} more {noun_b}.", "After that, {name} has {eq} {noun_r}.",
         "{name} eats {b} of the apples.", "{name} has {eq} {noun_r} left after eating some.",
         "Then {name} picks enough apples to have {b} times as many as before.",
         "Now {name} has {eq} {noun_r}.",
         "{name} shares the apples equally among {b} friends and keeps one share.",
         "{name} keeps {eq} {noun_r}.",
         "How many apples does {name} have now?"},
        {"dollar", "dollars",
         "{name} has {a_n} in a piggy bank.", "{name} starts with {a_n}.",
         "{name} works {a} hours and earns {b_n} per hour.",
         "{name} earns {eq} {noun_r}.",
         "Then {name} earns {b} more {noun_b} by selling lemonade.",
         "{name} now has {eq} {noun_r}.",
         "{name} spends {b_n} on a book.", "{name} has {eq} {noun_r} left.",
         "The savings of {name} then grow to {b} times as much.",
         "The savings become {eq} {noun_r}.",
         "{name} splits the money equally into {b} envelopes and keeps only one envelope.",
         "One envelope holds {eq} {noun_r}.",
         "How many dollars does {name} have now?"},
        {"marble", "marbles",
         "{name} has {a_n}.", "{name} starts with {a_n}.",
         "{name} buys {a} bags with {b_n} in each bag.", "{name} gets {eq} {noun_r}.",
         "Then {name} wins {b} more {noun_b} in a game.", "{name} now has {eq} {noun_r}.",
         "{name} loses {b} of the marbles.", "{name} has {eq} {noun_r} left.",
         "A friend gives {name} enough marbles to have {b} times as many as before.",
         "{name} then has {eq} {noun_r}.",
         "{name} sorts the marbles equally into {b} jars and gives away all jars but one.",
         "One jar holds {eq} {noun_r}.",
         "How many marbles does {name} have now?"},
        {"book", "books",
         "{name} owns {a_n}.", "{name} starts with {a_n}.",
         "{name} has {a} shelves with {b_n} on each shelf.", "{name} owns {eq} {noun_r}.",
         "Then {name} buys {b} more {noun_b}.", "{name} now owns {eq} {noun_r}.",
         "{name} donates {b} of the books to a library.", "{name} keeps {eq} {noun_r}.",
         "Over the next year the collection of {name} grows to {b} times its size.",
         "The collection grows to {eq} {noun_r}.",
         "{name} packs the books equally into {b} boxes and keeps only one box.",
         "One box holds {eq} {noun_r}.",
         "How many books does {name} have now?"},
        {"cookie", "cookies",
         "{name} has {a_n}.", "{name} starts with {a_n}.",
         "{name} bakes {a} trays of cookies with {b_n} on each tray.",
         "{name} bakes {eq} {noun_r}.",
         "Then {name} bakes {b} more {noun_b}.", "{name} now has {eq} {noun_r}.",
         "{name} gives away {b} of the cookies.", "{name} has {eq} {noun_r} left.",
         "{name} then bakes enough cookies to have {b} times as many as before.",
         "{name} then has {eq} {noun_r}.",
         "{name} divides the cookies equally into {b} tins and keeps one tin.",
         "One tin holds {eq} {noun_r}.",
         "How many cookies does {name} have now?"},
        {"sticker", "stickers",
         "{name} has {a_n}.", "{name} starts with {a_n}.",
         "{name} buys {a} sheets with {b_n} on each sheet.", "{name} gets {eq} {noun_r}.",
         "Then {name} receives {b} more {noun_b} from a friend.",
         "{name} now has {eq} {noun_r}.",
         "{name} uses {b} of the stickers on a poster.", "{name} has {eq} {noun_r} left.",
         "{name} then trades for enough stickers to have {b} times as many as before.",
         "{name} then has {eq} {noun_r}.",
         "{name} splits the stickers equally among {b} albums and keeps one album.",
         "One album holds {eq} {noun_r}.",
         "How many stickers does {name} have now?"},
        {"pencil", "pencils",
         "{name} has {a_n}.", "{name} starts with {a_n}.",
         "{name} buys {a} boxes with {b_n} in each box.", "{name} gets {eq} {noun_r}.",
         "Then {name} finds {b} more {noun_b}.", "{name} now has {eq} {noun_r}.",
         "{name} lends out {b} of the pencils.", "{name} has {eq} {noun_r} left.",
         "{name} then orders enough pencils to have {b} times as many as before.",
         "{name} then has {eq} {noun_r}.",
         "{name} splits the pencils equally among {b} cups and keeps one cup.",
         "One cup holds {eq} {noun_r}.",
         "How many pencils does {name} have now?"},
        {"egg", "eggs",
         "{name} has {a_n} in the kitchen.", "{name} starts with {a_n}.",
         "{name} collects eggs for {a} days, {b_n} each day.",
         "{name} collects {eq} {noun_r}.",
         "Then {name} buys {b} more {noun_b}.", "{name} now has {eq} {noun_r}.",
         "{name} uses {b} of the eggs for a cake.", "{name} has {eq} {noun_r} left.",
         "A neighbor gives {name} enough eggs to have {b} times as many as before.",
         "{name} then has {eq} {noun_r}.",
         "{name} packs the eggs equally into {b} cartons and keeps one carton.",
         "One carton holds {eq} {noun_r}.",
         "How many eggs does {name} have now?"},
    };
    return values;
}

struct Filler
{
    const Theme &theme;
    std::string name;

    std::string noun(int64_t count) const { return count == 1 ? theme.singular : theme.plural; }

    std::string operator()(const char *pattern, const ArithmeticStep &step) const
    {
        const std::map<std::string, std::string> values = {
            {"name", name},
            {"a", std::to_string(step.left)},
            {"b", std::to_string(step.right)},
            {"r", std::to_string(step.result)},
            {"eq", step.equation()},
            {"a_n", std::to_string(step.left) + ' ' + noun(step.left)},
            {"b_n", std::to_string(step.right) + ' ' + noun(step.right)},
            {"noun_b", noun(step.right)},
            {"noun_r", noun(step.result)},
            {"items", theme.plural},
        };
        std::string out;
        const std::string text(pattern);
        for (size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '{') {
                const size_t close = text.find('}', i);
                if (close != std::string::npos) {
                    const auto found = values.find(text.substr(i + 1, close - i - 1));
                    if (found != values.end()) {
                        out += found->second;
                        i = close;
                        continue;
                    }
                }
            }
            out += text[i];
        }
        return out;
    }
};

int64_t apply(int64_t left, ArithmeticOp op, int64_t right)
{
    switch (op) {
    case ArithmeticOp::Add: return left + right;
    case ArithmeticOp::Subtract: return left - right;
    case ArithmeticOp::Multiply: return left * right;
    case ArithmeticOp::Divide: return left / right;
    }
    return 0;
}

ArithmeticStep makeStep(int64_t left, ArithmeticOp op, int64_t right)
{
    ArithmeticStep step;
    step.left = left;
    step.op = op;
    step.right = right;
    step.result = apply(left, op, right);
    return step;
}

// A random operation on `value` that keeps the result an integer in [1, limit).
ArithmeticStep randomStep(int64_t value, WorldRng &rng)
{
    const int64_t top = kArithmeticLimit - 1;
    std::vector<ArithmeticOp> feasible;
    if (value < top)
        feasible.push_back(ArithmeticOp::Add);
    if (value >= 2)
        feasible.push_back(ArithmeticOp::Subtract);
    if (value >= 1 && value * 2 <= top)
        feasible.push_back(ArithmeticOp::Multiply);
    std::vector<int64_t> divisors;
    for (int64_t d = 2; d <= 9; ++d)
        if (value >= d && value % d == 0)
            divisors.push_back(d);
    if (!divisors.empty())
        feasible.push_back(ArithmeticOp::Divide);

    const ArithmeticOp op = rng.pick(feasible);
    switch (op) {
    case ArithmeticOp::Add:
        return makeStep(value, op, rng.between(1, std::min<int64_t>(40, top - value)));
    case ArithmeticOp::Subtract:
        return makeStep(value, op, rng.between(1, value - 1));
    case ArithmeticOp::Multiply:
        return makeStep(value, op, rng.between(2, std::min<int64_t>(5, top / value)));
    case ArithmeticOp::Divide:
        return makeStep(value, op, rng.pick(divisors));
    }
    throw Error("arithmetic task: unknown operation");
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Reads an unsigned decimal at text[pos]; advances pos. False when there is none.
bool readNumber(const std::string &text, size_t &pos, int64_t &value)
{
    const size_t begin = pos;
    value = 0;
    while (pos < text.size() && isDigit(text[pos]) && pos - begin < 18)
        value = value * 10 + (text[pos++] - '0');
    return pos > begin;
}

} // namespace

char ArithmeticStep::symbol() const
{
    switch (op) {
    case ArithmeticOp::Add: return '+';
    case ArithmeticOp::Subtract: return '-';
    case ArithmeticOp::Multiply: return '*';
    case ArithmeticOp::Divide: return '/';
    }
    return '?';
}

std::string ArithmeticStep::equation() const
{
    return std::to_string(left) + symbol() + std::to_string(right) + '=' + std::to_string(result);
}

ChatItem ArithmeticProblem::chatItem(int64_t index) const
{
    ChatItem item;
    item.dataset = kArithmeticDataset;
    item.id = std::string(kArithmeticDataset) + '_' + std::to_string(index);
    item.user = std::string(kArithmeticInstruction) + "\n\nQuestion: " + question;
    item.assistant = solution;
    return item;
}

ArithmeticProblem generateArithmeticProblem(int steps, WorldRng &rng)
{
    if (steps < 1 || steps > kMaxArithmeticSteps)
        throw Error("arithmetic task: the number of steps must be 1 to " +
                    std::to_string(kMaxArithmeticSteps) + ", not " + std::to_string(steps));
    const Theme &theme = rng.pick(themes());
    const Filler fill{theme, rng.pick(firstNames())};

    ArithmeticProblem problem;
    std::vector<std::string> story;
    std::vector<std::string> work;
    int64_t value = 0;
    if (rng.below(3) == 0) {
        // Start from groups: the multiplication is the first step.
        const ArithmeticStep step = makeStep(rng.between(2, 12), ArithmeticOp::Multiply,
                                             rng.between(2, 12));
        story.push_back(fill(theme.box, step));
        work.push_back(fill(theme.boxWork, step));
        problem.steps.push_back(step);
        value = step.result;
    } else {
        const ArithmeticStep start = makeStep(rng.between(2, 60), ArithmeticOp::Add, 0);
        story.push_back(fill(theme.start, start));
        work.push_back(fill(theme.startWork, start));
        value = start.left;
    }
    while (static_cast<int>(problem.steps.size()) < steps) {
        const ArithmeticStep step = randomStep(value, rng);
        switch (step.op) {
        case ArithmeticOp::Add:
            story.push_back(fill(theme.add, step));
            work.push_back(fill(theme.addWork, step));
            break;
        case ArithmeticOp::Subtract:
            story.push_back(fill(theme.subtract, step));
            work.push_back(fill(theme.subtractWork, step));
            break;
        case ArithmeticOp::Multiply:
            story.push_back(fill(theme.multiply, step));
            work.push_back(fill(theme.multiplyWork, step));
            break;
        case ArithmeticOp::Divide:
            story.push_back(fill(theme.divide, step));
            work.push_back(fill(theme.divideWork, step));
            break;
        }
        problem.steps.push_back(step);
        value = step.result;
    }
    story.push_back(fill(theme.ask, problem.steps.back()));
    problem.answer = value;

    for (size_t i = 0; i < story.size(); ++i)
        problem.question += (i ? " " : "") + story[i];
    problem.solution = "Answer:";
    for (const std::string &sentence : work)
        problem.solution += ' ' + sentence;
    problem.solution += " So the answer is " + std::to_string(problem.answer) + '.';
    return problem;
}

std::vector<ArithmeticProblem> generateArithmeticProblems(
    int count, int minSteps, int maxSteps, WorldRng &rng,
    std::unordered_set<std::string> &usedQuestions)
{
    if (count < 0)
        throw Error("arithmetic task: negative number of problems (" + std::to_string(count) + ")");
    if (minSteps < 1 || maxSteps > kMaxArithmeticSteps || minSteps > maxSteps)
        throw Error("arithmetic task: steps must satisfy 1 <= min <= max <= " +
                    std::to_string(kMaxArithmeticSteps) + " (min " + std::to_string(minSteps) +
                    ", max " + std::to_string(maxSteps) + ")");
    std::vector<ArithmeticProblem> problems;
    problems.reserve(static_cast<size_t>(count));
    int64_t attemptsLeft = int64_t(count) * 64 + 1024;
    while (static_cast<int>(problems.size()) < count) {
        if (attemptsLeft-- <= 0)
            throw Error("arithmetic task: could not find " + std::to_string(count) +
                        " different problems; ask for fewer");
        const int steps = static_cast<int>(rng.between(minSteps, maxSteps));
        ArithmeticProblem problem = generateArithmeticProblem(steps, rng);
        if (usedQuestions.insert(problem.question).second)
            problems.push_back(std::move(problem));
    }
    return problems;
}

std::optional<int64_t> finalAnswer(const std::string &text)
{
    static const std::string marker = "So the answer is ";
    const size_t at = text.rfind(marker);
    if (at == std::string::npos)
        return std::nullopt;
    size_t pos = at + marker.size();
    bool negative = false;
    if (pos < text.size() && text[pos] == '-') {
        negative = true;
        ++pos;
    }
    int64_t value = 0;
    bool any = false;
    while (pos < text.size() && (isDigit(text[pos]) || (any && text[pos] == ','))) {
        if (text[pos] != ',') {
            if (value > (int64_t(1) << 58))
                return std::nullopt;
            value = value * 10 + (text[pos] - '0');
            any = true;
        }
        ++pos;
    }
    if (!any)
        return std::nullopt;
    return negative ? -value : value;
}

std::vector<ArithmeticStep> parseEquations(const std::string &text)
{
    std::vector<ArithmeticStep> steps;
    for (size_t i = 0; i < text.size(); ++i) {
        if (!isDigit(text[i]) || (i > 0 && isDigit(text[i - 1])))
            continue;
        size_t pos = i;
        ArithmeticStep step;
        if (!readNumber(text, pos, step.left) || pos >= text.size())
            continue;
        switch (text[pos]) {
        case '+': step.op = ArithmeticOp::Add; break;
        case '-': step.op = ArithmeticOp::Subtract; break;
        case '*': step.op = ArithmeticOp::Multiply; break;
        case '/': step.op = ArithmeticOp::Divide; break;
        default: continue;
        }
        ++pos;
        if (!readNumber(text, pos, step.right) || pos >= text.size() || text[pos] != '=')
            continue;
        ++pos;
        if (!readNumber(text, pos, step.result))
            continue;
        steps.push_back(step);
        i = pos - 1;
    }
    return steps;
}

} // namespace nugget::zoo
