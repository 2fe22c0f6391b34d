#include "zoo/WorldSplits.h"

#include "io/JsonText.h"

#include "Error.h"
#include "io/AtomicFile.h"
#include "zoo/ArithmeticTask.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QJsonValue>
#include <QString>

#include <cmath>
#include <unordered_set>

namespace nugget::zoo {

namespace {

constexpr int kMaxPeoplePerSide = 1000000;
constexpr int kMaxBiographiesPerPerson = 100;
constexpr int kMaxArithmeticProblems = 1000000;
constexpr uint64_t kMaxSeed = uint64_t(1) << 53;   // exact in a JSON (double) number

struct IntSetting
{
    const char *key;
    int WorldRecipe::*field;
    int minimum;
    int maximum;
};

struct FractionSetting
{
    const char *key;
    double WorldRecipe::*field;
};

const std::vector<IntSetting> &intSettings()
{
    static const std::vector<IntSetting> settings = {
        {"teacher_people", &WorldRecipe::teacherPeople, 0, kMaxPeoplePerSide},
        {"student_people", &WorldRecipe::studentPeople, 0, kMaxPeoplePerSide},
        {"heldout_people", &WorldRecipe::heldoutPeople, 0, kMaxPeoplePerSide},
        {"biographies_per_person", &WorldRecipe::biographiesPerPerson, 1,
         kMaxBiographiesPerPerson},
        {"seed_samples", &WorldRecipe::seedSamples, 0, kMaxArithmeticProblems},
        {"arithmetic_teacher_count", &WorldRecipe::arithmeticTeacherCount, 0,
         kMaxArithmeticProblems},
        {"arithmetic_student_count", &WorldRecipe::arithmeticStudentCount, 0,
         kMaxArithmeticProblems},
        {"arithmetic_transfer_count", &WorldRecipe::arithmeticTransferCount, 0,
         kMaxArithmeticProblems},
        {"arithmetic_eval_count", &WorldRecipe::arithmeticEvalCount, 0, kMaxArithmeticProblems},
        {"arithmetic_min_steps", &WorldRecipe::arithmeticMinSteps, 1, kMaxArithmeticSteps},
        {"arithmetic_difficulty", &WorldRecipe::arithmeticDifficulty, 1, kMaxArithmeticSteps},
    };
    return settings;
}

const std::vector<FractionSetting> &fractionSettings()
{
    static const std::vector<FractionSetting> settings = {
        {"teacher_qa_fraction", &WorldRecipe::teacherQaFraction},
        {"student_qa_fraction", &WorldRecipe::studentQaFraction},
        {"transfer_train_fraction", &WorldRecipe::transferTrainFraction},
    };
    return settings;
}

// A JSON number holding an integer in [minimum, maximum].
double integerValue(const QJsonValue &value, const std::string &where, const char *key,
                    double minimum, double maximum)
{
    if (!value.isDouble())
        throw Error(where + "key '" + key + "' must be an integer, found " + jsonTypeName(value));
    const double number = value.toDouble();
    if (!std::isfinite(number) || number != std::floor(number))
        throw Error(where + "key '" + key + "' must be an integer");
    if (number < minimum || number > maximum)
        throw Error(where + "key '" + key + "' must be between " +
                    std::to_string(static_cast<int64_t>(minimum)) + " and " +
                    std::to_string(static_cast<int64_t>(maximum)));
    return number;
}

// Counts of a side's split, computed the same way by validate() and generateWorld().
struct TeacherSplitSizes
{
    int64_t qaPeople = 0;
    int64_t transferTrainPeople = 0;
};

TeacherSplitSizes teacherSplitSizes(const WorldRecipe &recipe)
{
    TeacherSplitSizes sizes;
    sizes.qaPeople = fractionOf(recipe.teacherPeople, recipe.teacherQaFraction);
    sizes.transferTrainPeople = fractionOf(sizes.qaPeople, recipe.transferTrainFraction);
    return sizes;
}

class FileBuilder
{
public:
    explicit FileBuilder(std::string name) { m_file.name = std::move(name); }
    void line(const std::string &text)
    {
        m_file.content += text;
        m_file.content += '\n';
        ++m_file.records;
    }
    void chat(const ChatItem &item) { line(chatJsonLine(item)); }
    WorldFile take() { return std::move(m_file); }

private:
    WorldFile m_file;
};

// `count` distinct elements of `values` in draw order.
template <typename T> std::vector<T> sample(const std::vector<T> &values, int count, WorldRng &rng)
{
    std::vector<size_t> order(values.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::vector<T> picked;
    for (size_t i = 0; i < static_cast<size_t>(count) && i < order.size(); ++i) {
        std::swap(order[i], order[i + rng.index(order.size() - i)]);
        picked.push_back(values[order[i]]);
    }
    return picked;
}

void addLines(std::vector<std::string> &lines, const std::string &text)
{
    size_t begin = 0;
    while (begin <= text.size()) {
        size_t end = text.find('\n', begin);
        if (end == std::string::npos)
            end = text.size();
        if (end > begin)
            lines.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
}

// Assigns QA / split flags to a side: the first qaPeople of a random order are QA
// people, and on the teacher's side the first trainPeople of those go to transfer_train.
void assignSplits(std::vector<WorldPerson> &side, int64_t qaPeople,
                                 int64_t trainPeople, bool teacher, WorldRng &rng)
{
    std::vector<size_t> order(side.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    rng.shuffle(order);
    for (size_t rank = 0; rank < order.size(); ++rank) {
        WorldPerson &person = side[order[rank]];
        const auto r = static_cast<int64_t>(rank);
        person.qaInPretraining = r < qaPeople;
        if (!person.qaInPretraining)
            person.split = worldsplit::BioOnly;
        else if (!teacher)
            person.split = worldsplit::PretrainQa;
        else
            person.split = r < trainPeople ? worldsplit::TransferTrain : worldsplit::TransferEval;
    }
}

std::vector<WorldPerson> wrap(std::vector<Person> people)
{
    std::vector<WorldPerson> wrapped(people.size());
    for (size_t i = 0; i < people.size(); ++i)
        wrapped[i].person = std::move(people[i]);
    return wrapped;
}

WorldFile biographyFile(const char *name, const std::vector<WorldPerson> &side,
                        const WorldRecipe &recipe, const char *orderStream)
{
    std::vector<std::string> lines;
    lines.reserve(side.size() * static_cast<size_t>(recipe.biographiesPerPerson));
    for (const WorldPerson &person : side) {
        WorldRng rng(recipe.seed, "biographies", static_cast<uint64_t>(person.person.index));
        for (std::string &bio : biographies(person.person, recipe.biographiesPerPerson, rng))
            lines.push_back(std::move(bio));
    }
    WorldRng orderRng(recipe.seed, orderStream);
    orderRng.shuffle(lines);
    FileBuilder file(name);
    for (const std::string &line : lines)
        file.line(line);
    return file.take();
}

template <typename Keep>
WorldFile qaFile(const char *name, const std::vector<WorldPerson> &side, Keep keep)
{
    FileBuilder file(name);
    for (const WorldPerson &person : side)
        if (keep(person))
            for (const ChatItem &item : qaExamples(person.person))
                file.chat(item);
    return file.take();
}

QString qs(const std::string &text) { return QString::fromStdString(text); }

} // namespace

// ---- WorldRecipe ------------------------------------------------------------------

WorldRecipe WorldRecipe::fromJson(const QJsonObject &json, const std::string &source)
{
    const std::string where = source + ": ";
    WorldRecipe recipe;
    for (auto it = json.begin(); it != json.end(); ++it) {
        const std::string key = it.key().toStdString();
        const QJsonValue value = it.value();
        if (key == "seed") {
            recipe.seed = static_cast<uint64_t>(
                integerValue(value, where, "seed", 0, static_cast<double>(kMaxSeed)));
            continue;
        }
        bool known = false;
        for (const IntSetting &setting : intSettings()) {
            if (key == setting.key) {
                recipe.*setting.field = static_cast<int>(
                    integerValue(value, where, setting.key, setting.minimum, setting.maximum));
                known = true;
            }
        }
        for (const FractionSetting &setting : fractionSettings()) {
            if (key == setting.key) {
                if (!value.isDouble())
                    throw Error(where + "key '" + key + "' must be a number, found " +
                                jsonTypeName(value));
                recipe.*setting.field = value.toDouble();
                known = true;
            }
        }
        if (!known) {
            std::string keys = "seed";
            for (const IntSetting &setting : intSettings())
                keys += std::string(", ") + setting.key;
            for (const FractionSetting &setting : fractionSettings())
                keys += std::string(", ") + setting.key;
            throw Error(where + "unknown key '" + key + "' (known keys: " + keys + ")");
        }
    }
    recipe.validate(source);
    return recipe;
}

QJsonObject WorldRecipe::toJson() const
{
    QJsonObject json;
    json.insert(QStringLiteral("seed"), static_cast<qint64>(seed));
    for (const IntSetting &setting : intSettings())
        json.insert(QLatin1String(setting.key), this->*setting.field);
    for (const FractionSetting &setting : fractionSettings())
        json.insert(QLatin1String(setting.key), this->*setting.field);
    return json;
}

void WorldRecipe::validate(const std::string &source) const
{
    const std::string where = source + ": ";
    if (seed > kMaxSeed)
        throw Error(where + "'seed' must be at most 2^53 (" + std::to_string(kMaxSeed) + ")");
    for (const IntSetting &setting : intSettings()) {
        const int value = this->*setting.field;
        if (value < setting.minimum || value > setting.maximum)
            throw Error(where + "'" + setting.key + "' is " + std::to_string(value) +
                        "; it must be between " + std::to_string(setting.minimum) + " and " +
                        std::to_string(setting.maximum));
    }
    for (const FractionSetting &setting : fractionSettings()) {
        const double value = this->*setting.field;
        if (!(value >= 0.0 && value <= 1.0))
            throw Error(where + "'" + setting.key + "' is " + std::to_string(value) +
                        "; it must be between 0 and 1");
    }
    if (arithmeticMinSteps > arithmeticDifficulty)
        throw Error(where + "'arithmetic_min_steps' (" + std::to_string(arithmeticMinSteps) +
                    ") exceeds 'arithmetic_difficulty' (" +
                    std::to_string(arithmeticDifficulty) + ")");
    const TeacherSplitSizes sizes = teacherSplitSizes(*this);
    const int64_t transferExamples = sizes.transferTrainPeople * kAttributeCount;
    if (seedSamples > transferExamples)
        throw Error(where + "'seed_samples' (" + std::to_string(seedSamples) +
                    ") exceeds the " + std::to_string(transferExamples) +
                    " transfer_train examples; raise 'teacher_people', "
                    "'teacher_qa_fraction' or 'transfer_train_fraction'");
    if (seedSamples > arithmeticTransferCount)
        throw Error(where + "'seed_samples' (" + std::to_string(seedSamples) +
                    ") exceeds 'arithmetic_transfer_count' (" +
                    std::to_string(arithmeticTransferCount) + ")");
}

// ---- World ------------------------------------------------------------------------

const WorldFile &World::file(const std::string &name) const
{
    for (const WorldFile &file : files)
        if (file.name == name)
            return file;
    throw Error("world: no file named '" + name + "'");
}

World generateWorld(const WorldRecipe &recipe)
{
    recipe.validate();
    World world;
    world.recipe = recipe;
    const uint64_t seed = recipe.seed;

    // People: one name space for the whole world, so no two people share a full name.
    {
        WorldRng rng(seed, "people");
        std::unordered_set<std::string> names;
        int next = 0;
        world.teacher = wrap(generatePeople(recipe.teacherPeople, next, rng, names));
        next += recipe.teacherPeople;
        world.student = wrap(generatePeople(recipe.studentPeople, next, rng, names));
        next += recipe.studentPeople;
        world.heldout = wrap(generatePeople(recipe.heldoutPeople, next, rng, names));
        for (WorldPerson &person : world.heldout)
            person.split = worldsplit::Heldout;
    }
    const TeacherSplitSizes teacherSizes = teacherSplitSizes(recipe);
    {
        WorldRng rng(seed, "teacher_split");
        assignSplits(world.teacher, teacherSizes.qaPeople, teacherSizes.transferTrainPeople,
                     true, rng);
    }
    {
        WorldRng rng(seed, "student_split");
        assignSplits(world.student, fractionOf(recipe.studentPeople, recipe.studentQaFraction), 0,
                     false, rng);
    }

    std::vector<WorldFile> &files = world.files;
    {
        FileBuilder teacher(worldfile::TeacherPeople);
        for (const WorldPerson &person : world.teacher)
            teacher.line(personJsonLine(person));
        files.push_back(teacher.take());
        FileBuilder student(worldfile::StudentPeople);
        for (const WorldPerson &person : world.student)
            student.line(personJsonLine(person));
        files.push_back(student.take());
    }
    files.push_back(biographyFile(worldfile::TeacherPretrainBios, world.teacher, recipe,
                                  "teacher_bios_order"));
    files.push_back(biographyFile(worldfile::StudentPretrainBios, world.student, recipe,
                                  "student_bios_order"));

    const auto qaPerson = [](const WorldPerson &p) { return p.qaInPretraining; };
    const auto bioOnlyPerson = [](const WorldPerson &p) { return !p.qaInPretraining; };
    files.push_back(qaFile(worldfile::TeacherPretrainQa, world.teacher, qaPerson));
    files.push_back(qaFile(worldfile::StudentPretrainQa, world.student, qaPerson));
    files.push_back(qaFile(worldfile::TeacherBioOnlyQa, world.teacher, bioOnlyPerson));
    files.push_back(qaFile(worldfile::StudentBioOnlyQa, world.student, bioOnlyPerson));
    files.push_back(qaFile(worldfile::TransferTrain, world.teacher, [](const WorldPerson &p) {
        return p.split == worldsplit::TransferTrain;
    }));
    files.push_back(qaFile(worldfile::TransferEval, world.teacher, [](const WorldPerson &p) {
        return p.split == worldsplit::TransferEval;
    }));
    {
        std::vector<ChatItem> transferItems;
        for (const WorldPerson &person : world.teacher)
            if (person.split == worldsplit::TransferTrain)
                for (ChatItem &item : qaExamples(person.person))
                    transferItems.push_back(std::move(item));
        WorldRng rng(seed, "transfer_seeds");
        FileBuilder seeds(worldfile::TransferSeeds);
        for (const ChatItem &item : sample(transferItems, recipe.seedSamples, rng))
            seeds.chat(item);
        files.push_back(seeds.take());
    }

    // Arithmetic: one pool of distinct problems, evaluation first so that the evaluation
    // set does not change when training sets grow. Ids number the pool.
    std::vector<ChatItem> arithmetic;
    {
        WorldRng rng(seed, "arithmetic");
        std::unordered_set<std::string> questions;
        const auto generate = [&](int count) {
            std::vector<ChatItem> items;
            for (const ArithmeticProblem &problem :
                 generateArithmeticProblems(count, recipe.arithmeticMinSteps,
                                            recipe.arithmeticDifficulty, rng, questions)) {
                items.push_back(problem.chatItem(static_cast<int64_t>(arithmetic.size())));
                arithmetic.push_back(items.back());
            }
            return items;
        };
        const std::vector<ChatItem> eval = generate(recipe.arithmeticEvalCount);
        const std::vector<ChatItem> transfer = generate(recipe.arithmeticTransferCount);
        const std::vector<ChatItem> teacher = generate(recipe.arithmeticTeacherCount);
        const std::vector<ChatItem> student = generate(recipe.arithmeticStudentCount);
        WorldRng seedRng(seed, "arith_seeds");
        const std::vector<ChatItem> seeds = sample(transfer, recipe.seedSamples, seedRng);
        const auto add = [&](const char *name, const std::vector<ChatItem> &items) {
            FileBuilder file(name);
            for (const ChatItem &item : items)
                file.chat(item);
            files.push_back(file.take());
        };
        add(worldfile::ArithTeacherTrain, teacher);
        add(worldfile::ArithStudentTrain, student);
        add(worldfile::ArithTransferTrain, transfer);
        add(worldfile::ArithEval, eval);
        add(worldfile::ArithSeeds, seeds);
    }
    files.push_back(
        biographyFile(worldfile::HeldoutBios, world.heldout, recipe, "heldout_bios_order"));

    // Tokenizer corpus: the pretraining biographies, every rendered QA line of both
    // sides, every arithmetic line; shuffled. Held-out biographies stay out.
    {
        std::vector<std::string> lines;
        addLines(lines, world.file(worldfile::TeacherPretrainBios).content);
        addLines(lines, world.file(worldfile::StudentPretrainBios).content);
        for (const std::vector<WorldPerson> *side : {&world.teacher, &world.student})
            for (const WorldPerson &person : *side)
                for (const ChatItem &item : qaExamples(person.person)) {
                    addLines(lines, item.user);
                    addLines(lines, item.assistant);
                }
        for (const ChatItem &item : arithmetic) {
            addLines(lines, item.user);
            addLines(lines, item.assistant);
        }
        WorldRng rng(seed, "tokenizer_corpus");
        rng.shuffle(lines);
        FileBuilder corpus(worldfile::TokenizerCorpus);
        for (const std::string &line : lines)
            corpus.line(line);
        files.push_back(corpus.take());
    }

    {
        // Every answer of each attribute's questions: their ranks are graded probes.
        QJsonObject sets;
        for (const Attribute attribute : kAttributes) {
            QJsonArray answers;
            for (const std::string &answer : candidateAnswers(attribute))
                answers.append(qs(answer));
            if (!answers.isEmpty())
                sets.insert(qs(attributeKey(attribute)), answers);
        }
        WorldFile candidates;
        candidates.name = worldfile::Candidates;
        candidates.content = QJsonDocument(QJsonObject{{QStringLiteral("field"), QStringLiteral("attribute")},
                                                       {QStringLiteral("sets"), sets}})
                                 .toJson(QJsonDocument::Indented)
                                 .toStdString();
        candidates.records = 1;
        files.push_back(std::move(candidates));
    }

    {
        QJsonObject counts;
        for (const WorldFile &file : files)
            counts.insert(qs(file.name), static_cast<qint64>(file.records));
        QJsonObject info;
        info.insert(QStringLiteral("format"), QStringLiteral("nugget-world"));
        info.insert(QStringLiteral("version"), 1);
        info.insert(QStringLiteral("recipe"), recipe.toJson());
        info.insert(QStringLiteral("records"), counts);
        info.insert(QStringLiteral("teacher_qa_people"),
                    static_cast<qint64>(teacherSizes.qaPeople));
        info.insert(QStringLiteral("transfer_train_people"),
                    static_cast<qint64>(teacherSizes.transferTrainPeople));
        WorldFile json;
        json.name = worldfile::WorldJson;
        json.content = QJsonDocument(info).toJson(QJsonDocument::Indented).toStdString();
        json.records = 1;
        files.push_back(std::move(json));
    }
    return world;
}

WorldSummary writeWorld(const WorldRecipe &recipe, const std::string &outputDir)
{
    const World world = generateWorld(recipe);
    const QDir dir(qs(outputDir));
    if (!QDir().mkpath(dir.absolutePath()))
        throw Error("world folder " + outputDir + ": cannot create the folder");
    WorldSummary summary;
    summary.folder = dir.absolutePath().toStdString();
    for (const WorldFile &file : world.files) {
        const QString path = dir.filePath(qs(file.name));
        writeFileAtomically(path.toStdString(), QByteArray::fromStdString(file.content));
        summary.records.emplace_back(file.name, file.records);
    }
    return summary;
}

// ---- People files -------------------------------------------------------------------

std::string personJsonLine(const WorldPerson &entry)
{
    const Person &p = entry.person;
    std::string line = "{\"index\": " + std::to_string(p.index);
    const auto field = [&line](const char *key, const std::string &value) {
        line += std::string(", \"") + key + "\": " + jsonQuoted(value);
    };
    field("name", p.fullName());
    field("first_name", p.firstName);
    field("middle_name", p.middleName);
    field("last_name", p.lastName);
    for (const Attribute attribute : kAttributes)
        field(attributeKey(attribute).c_str(), p.value(attribute));
    line += std::string(", \"qa_in_pretraining\": ") + (entry.qaInPretraining ? "true" : "false");
    field("split", entry.split);
    line += '}';
    return line;
}

std::vector<WorldPerson> readPeopleJsonl(const std::string &path)
{
    QFile file(qs(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot open: " + file.errorString().toStdString());
    std::vector<WorldPerson> people;
    int lineNumber = 0;
    while (!file.atEnd()) {
        const QByteArray raw = file.readLine().trimmed();
        ++lineNumber;
        if (raw.isEmpty())
            continue;
        const std::string where = path + ':' + std::to_string(lineNumber);
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(raw, &error);
        if (error.error != QJsonParseError::NoError || !document.isObject())
            throw Error(where + ": not a JSON object (" + error.errorString().toStdString() + ")");
        const QJsonObject json = document.object();
        const auto text = [&](const char *key) {
            const QJsonValue value = json.value(QLatin1String(key));
            if (!value.isString())
                throw Error(where + ": key '" + key + "' must be a string, found " +
                            jsonTypeName(value));
            return value.toString().toStdString();
        };
        WorldPerson entry;
        Person &p = entry.person;
        p.index = static_cast<int>(
            integerValue(json.value(QLatin1String("index")), where + ": ", "index", 0, 1e9));
        p.firstName = text("first_name");
        p.middleName = text("middle_name");
        p.lastName = text("last_name");
        p.birthDate = BirthDate::parse(text("birth_date"), where);
        p.birthCity = text("birth_city");
        p.university = text("university");
        p.major = text("major");
        p.employer = text("employer");
        p.employerCity = text("employer_city");
        if (text("name") != p.fullName())
            throw Error(where + ": 'name' does not match first, middle and last name");
        const QJsonValue qa = json.value(QLatin1String("qa_in_pretraining"));
        if (!qa.isBool())
            throw Error(where + ": key 'qa_in_pretraining' must be a boolean, found " +
                        jsonTypeName(qa));
        entry.qaInPretraining = qa.toBool();
        entry.split = text("split");
        people.push_back(std::move(entry));
    }
    return people;
}

} // namespace nugget::zoo
