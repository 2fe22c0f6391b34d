// The synthetic knowledge world: value lists, people, biographies, questions, arithmetic
// problems and the files of a world folder (determinism, disjoint splits, readability).

#include "TestSupport.h"

#include "Error.h"
#include "text/ChatDataset.h"
#include "zoo/ArithmeticTask.h"
#include "zoo/BiographyWorld.h"
#include "zoo/WorldNames.h"
#include "zoo/WorldSplits.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

using nugget::test::errorOf;
using nugget::test::readAll;

using namespace nugget::zoo;
using nugget::Error;

namespace {

WorldRecipe smallRecipe(uint64_t seed = 7)
{
    WorldRecipe recipe;
    recipe.seed = seed;
    recipe.teacherPeople = 40;
    recipe.studentPeople = 40;
    recipe.heldoutPeople = 5;
    recipe.biographiesPerPerson = 4;
    recipe.arithmeticTeacherCount = 100;
    recipe.arithmeticStudentCount = 100;
    recipe.arithmeticTransferCount = 60;
    recipe.arithmeticEvalCount = 40;
    return recipe;
}

std::vector<std::string> splitLines(const std::string &content)
{
    std::vector<std::string> lines;
    size_t begin = 0;
    while (begin < content.size()) {
        const size_t end = content.find('\n', begin);
        lines.push_back(content.substr(begin, end - begin));
        if (end == std::string::npos)
            break;
        begin = end + 1;
    }
    return lines;
}

bool endsWith(const std::string &text, const std::string &suffix)
{
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Ids "bioqa_<index>_<attribute>" of a file's examples, as (index, attribute key).
std::vector<std::pair<int, std::string>> qaKeys(const std::string &content)
{
    std::vector<std::pair<int, std::string>> keys;
    static const QRegularExpression id(QStringLiteral("\"id\": \"bioqa_(\\d+)_([a-z_]+)\""));
    for (const std::string &line : splitLines(content)) {
        const QRegularExpressionMatch m = id.match(QString::fromStdString(line));
        if (m.hasMatch())
            keys.emplace_back(m.captured(1).toInt(), m.captured(2).toStdString());
    }
    return keys;
}

std::set<int> peopleIn(const std::string &content)
{
    std::set<int> people;
    for (const auto &key : qaKeys(content))
        people.insert(key.first);
    return people;
}

// Checks a problem's worked equations: correct, chained, in range, ending in N.
void checkSolution(const std::string &solution, int64_t expected, int expectedSteps)
{
    const std::vector<ArithmeticStep> steps = parseEquations(solution);
    if (expectedSteps > 0)
        QCOMPARE(int(steps.size()), expectedSteps);
    QVERIFY(!steps.empty());
    for (size_t i = 0; i < steps.size(); ++i) {
        const ArithmeticStep &s = steps[i];
        int64_t value = 0;
        switch (s.op) {
        case ArithmeticOp::Add: value = s.left + s.right; break;
        case ArithmeticOp::Subtract: value = s.left - s.right; break;
        case ArithmeticOp::Multiply: value = s.left * s.right; break;
        case ArithmeticOp::Divide:
            QVERIFY(s.right != 0);
            QCOMPARE(s.left % s.right, int64_t(0));
            value = s.left / s.right;
            break;
        }
        QCOMPARE(s.result, value);
        QVERIFY(s.result >= 0 && s.result < kArithmeticLimit);
        QVERIFY(s.left >= 0 && s.left < kArithmeticLimit);
        if (i > 0)
            QCOMPARE(s.left, steps[i - 1].result);
    }
    QCOMPARE(steps.back().result, expected);
    QVERIFY(endsWith(solution, " So the answer is " + std::to_string(expected) + "."));
    QCOMPARE(finalAnswer(solution).value_or(-1), expected);
}

} // namespace

class TestWorld : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void valueLists_data();
    void valueLists();
    void namesNeverContainOneAnother();
    void rngIsTheReferenceGenerator();
    void birthDates();
    void peopleHaveUniqueNames();
    void biographiesStateEveryValue();
    void questionsAndAnswers();
    void arithmeticProblems();
    void finalAnswerParsing();
    void recipeJson();
    void recipeErrors();
    void sameSeedSameBytes();
    void splitsAreDisjoint();
    void worldFilesAreCorrect();
    void chatDatasetReadsEveryFile();
    void smallWorldIsFast();
};

void TestWorld::valueLists_data()
{
    QTest::addColumn<QString>("list");
    QTest::addColumn<int>("minimum");
    QTest::newRow("first names") << "first" << kMinFirstNames;
    QTest::newRow("middle names") << "middle" << kMinMiddleNames;
    QTest::newRow("last names") << "last" << kMinLastNames;
    QTest::newRow("cities") << "cities" << kMinCities;
    QTest::newRow("universities") << "universities" << kMinUniversities;
    QTest::newRow("majors") << "majors" << kMinMajors;
    QTest::newRow("employers") << "employers" << kMinEmployers;
    QTest::newRow("months") << "months" << 12;
}

void TestWorld::valueLists()
{
    QFETCH(QString, list);
    QFETCH(int, minimum);
    const std::map<QString, const std::vector<std::string> *> lists = {
        {"first", &firstNames()},        {"middle", &middleNames()},
        {"last", &lastNames()},          {"cities", &cities()},
        {"universities", &universities()}, {"majors", &majors()},
        {"employers", &employers()},     {"months", &monthNames()},
    };
    const std::vector<std::string> &values = *lists.at(list);
    QVERIFY2(int(values.size()) >= minimum,
             qPrintable(QStringLiteral("%1 values, expected >= %2")
                            .arg(values.size())
                            .arg(minimum)));
    std::set<std::string> unique;
    for (const std::string &value : values) {
        QVERIFY2(unique.insert(value).second, ("duplicate: " + value).c_str());
        QVERIFY(!value.empty());
        QVERIFY2(value.find_first_of(".\"\\\n\r\t") == std::string::npos, value.c_str());
        QVERIFY2(value.front() != ' ' && value.back() != ' ', value.c_str());
        QVERIFY2(value.find("  ") == std::string::npos, value.c_str());
        for (const char c : value)
            QVERIFY2(static_cast<unsigned char>(c) < 0x80, value.c_str());
    }
    if (list == "cities") {
        const QRegularExpression cityState(QStringLiteral("^[A-Z][A-Za-z ]+, [A-Z]{2}$"));
        for (const std::string &city : values)
            QVERIFY2(cityState.match(QString::fromStdString(city)).hasMatch(), city.c_str());
    }
    if (list == "first" || list == "middle" || list == "last") {
        const QRegularExpression word(QStringLiteral("^[A-Z][a-z]+$"));
        for (const std::string &name : values)
            QVERIFY2(word.match(QString::fromStdString(name)).hasMatch(), name.c_str());
    }
}

void TestWorld::namesNeverContainOneAnother()
{
    // A full name inside another would need a first name ending another first name or a
    // last name starting another last name; neither may happen.
    for (const std::string &a : lastNames())
        for (const std::string &b : lastNames())
            QVERIFY2(a == b || b.compare(0, a.size(), a) != 0, (a + " / " + b).c_str());
    for (const std::string &a : firstNames())
        for (const std::string &b : firstNames())
            QVERIFY2(a == b || !endsWith(b, a), (a + " / " + b).c_str());
}

void TestWorld::rngIsTheReferenceGenerator()
{
    // xoshiro256** seeded by splitmix64 (values from an independent implementation).
    WorldRng rng(42);
    QCOMPARE(rng.next(), uint64_t(0x15780b2e0c2ec716ULL));
    QCOMPARE(rng.next(), uint64_t(0x6104d9866d113a7eULL));
    QCOMPARE(rng.next(), uint64_t(0xae17533239e499a1ULL));
    WorldRng bounded(42);
    const std::vector<uint64_t> expected = {742, 102, 9, 193, 476};
    for (const uint64_t value : expected)
        QCOMPARE(bounded.below(1000), value);

    // Streams differ from each other and repeat themselves.
    WorldRng a(7, "people"), b(7, "people"), c(7, "bios"), d(7, "people", 1);
    const uint64_t first = a.next();
    QCOMPARE(b.next(), first);
    QVERIFY(c.next() != first);
    QVERIFY(d.next() != first);

    // Bounded draws stay in range and cover it.
    WorldRng r(1);
    std::set<int64_t> seen;
    for (int i = 0; i < 2000; ++i) {
        const int64_t v = r.between(-3, 3);
        QVERIFY(v >= -3 && v <= 3);
        seen.insert(v);
    }
    QCOMPARE(int(seen.size()), 7);
}

void TestWorld::birthDates()
{
    WorldRng rng(3);
    std::set<int> years;
    bool sawFebruary29 = false;
    for (int i = 0; i < 20000; ++i) {
        const Person p = randomPerson(rng);
        const BirthDate &d = p.birthDate;
        QVERIFY(d.year >= kFirstBirthYear && d.year <= kLastBirthYear);
        QVERIFY(d.month >= 1 && d.month <= 12);
        QVERIFY(d.day >= 1 && d.day <= daysInMonth(d.year, d.month));
        years.insert(d.year);
        sawFebruary29 = sawFebruary29 || (d.month == 2 && d.day == 29);
        if (i < 200)
            QVERIFY(BirthDate::parse(d.text(), "test") == d);
    }
    QCOMPARE(int(years.size()), kLastBirthYear - kFirstBirthYear + 1);
    QVERIFY(sawFebruary29);
    BirthDate october;
    october.year = 1996;
    october.month = 10;
    october.day = 2;
    QCOMPARE(october.text(), std::string("October 2, 1996"));
    QVERIFY(errorOf([] { BirthDate::parse("February 30, 1999", "x.jsonl:3"); })
                .contains("x.jsonl:3"));
    QVERIFY(!errorOf([] { BirthDate::parse("Octember 2, 1996", "x"); }).isEmpty());
}

void TestWorld::peopleHaveUniqueNames()
{
    WorldRng rng(11);
    std::unordered_set<std::string> used;
    const std::vector<Person> first = generatePeople(3000, 0, rng, used);
    const std::vector<Person> second = generatePeople(3000, 3000, rng, used);
    QCOMPARE(int(used.size()), 6000);
    std::set<std::string> names;
    int index = 0;
    for (const auto *people : {&first, &second})
        for (const Person &p : *people) {
            QCOMPARE(p.index, index++);
            QVERIFY(names.insert(p.fullName()).second);
        }

    const World world = generateWorld(smallRecipe());
    names.clear();
    for (const auto *side : {&world.teacher, &world.student, &world.heldout})
        for (const WorldPerson &p : *side)
            QVERIFY2(names.insert(p.person.fullName()).second, p.person.fullName().c_str());
    QCOMPARE(int(names.size()), 85);
}

void TestWorld::biographiesStateEveryValue()
{
    WorldRng rng(5);
    for (const Attribute attribute : kAttributes)
        QVERIFY(sentenceTemplateCount(attribute) >= 4);

    for (int n = 0; n < 50; ++n) {
        const Person person = randomPerson(rng);
        const std::vector<Biography> bios = renderBiographies(person, 10, rng);
        QCOMPARE(int(bios.size()), 10);
        std::set<std::string> texts;
        std::set<std::vector<int>> orders;
        for (const Biography &bio : bios) {
            QVERIFY(texts.insert(bio.text).second);
            for (const Attribute attribute : kAttributes)
                QVERIFY2(bio.text.find(person.value(attribute)) != std::string::npos,
                         bio.text.c_str());
            // Six sentences, each naming the person; no pronouns.
            size_t mentions = 0;
            for (size_t at = bio.text.find(person.fullName()); at != std::string::npos;
                 at = bio.text.find(person.fullName(), at + 1))
                ++mentions;
            QCOMPARE(int(mentions), kAttributeCount);
            for (const char *pronoun : {" he ", " she ", " his ", " her ", " they ", " their "})
                QVERIFY2(bio.text.find(pronoun) == std::string::npos, bio.text.c_str());
            // The text is the listed sentences in the listed order.
            std::string rebuilt;
            std::set<Attribute> covered;
            for (int i = 0; i < kAttributeCount; ++i) {
                rebuilt += (i ? " " : "") + renderSentence(person, bio.order[i], bio.templates[i]);
                covered.insert(bio.order[i]);
            }
            QCOMPARE(rebuilt, bio.text);
            QCOMPARE(int(covered.size()), kAttributeCount);
            std::vector<int> order;
            for (const Attribute a : bio.order)
                order.push_back(static_cast<int>(a));
            orders.insert(order);
        }
        QVERIFY2(orders.size() > 1, "sentence order never varies");
    }

    Person anya;
    anya.firstName = "Anya";
    anya.middleName = "Briar";
    anya.lastName = "Forger";
    anya.birthDate.year = 1996;
    anya.birthDate.month = 10;
    anya.birthDate.day = 2;
    anya.birthCity = "Princeton, NJ";
    QCOMPARE(renderSentence(anya, Attribute::BirthDate, 0),
             std::string("Anya Briar Forger was born on October 2, 1996."));
    QCOMPARE(renderSentence(anya, Attribute::BirthCity, 1),
             std::string("Anya Briar Forger spent early years in Princeton, NJ."));
    QVERIFY(!errorOf([&] { renderSentence(anya, Attribute::Major, 99); }).isEmpty());
}

void TestWorld::questionsAndAnswers()
{
    Person p;
    p.index = 17;
    p.firstName = "Anya";
    p.middleName = "Briar";
    p.lastName = "Forger";
    p.birthDate.year = 1996;
    p.birthDate.month = 10;
    p.birthDate.day = 2;
    p.birthCity = "Princeton, NJ";
    p.university = "MIT";
    p.major = "Communications";
    p.employer = "Meta Platforms";
    p.employerCity = "Menlo Park, CA";

    const ChatItem city = qaExample(p, Attribute::BirthCity);
    QCOMPARE(city.dataset, std::string("bioqa"));
    QCOMPARE(city.id, std::string("bioqa_17_birth_city"));
    QCOMPARE(city.user, std::string("Answer the question about the person.\n\nQuestion: What "
                                    "is the birth city of Anya Briar Forger?"));
    QCOMPARE(city.assistant, std::string("Princeton, NJ."));
    QCOMPARE(chatJsonLine(city),
             std::string(R"({"dataset": "bioqa", "id": "bioqa_17_birth_city", "messages": )"
                         R"([{"role": "user", "content": "Answer the question about the )"
                         R"(person.\n\nQuestion: What is the birth city of Anya Briar )"
                         R"(Forger?"}, {"role": "assistant", "content": "Princeton, NJ."}], )"
                         R"("person": "Anya Briar Forger", "attribute": "birth_city"})"));
    // Every answer a city question can have, the true one among them; dates have none.
    const auto cityAnswers = candidateAnswers(Attribute::BirthCity);
    QCOMPARE(cityAnswers.size(), cities().size());
    QVERIFY(std::find(cityAnswers.begin(), cityAnswers.end(), city.assistant) != cityAnswers.end());
    QVERIFY(candidateAnswers(Attribute::BirthDate).empty());
    QCOMPARE(candidateAnswers(Attribute::Major).size(), majors().size());
    QCOMPARE(questionText(p, Attribute::BirthDate),
             std::string("What is the birth date of Anya Briar Forger?"));
    QCOMPARE(questionText(p, Attribute::University),
             std::string("Which university did Anya Briar Forger attend?"));
    QCOMPARE(questionText(p, Attribute::Major), std::string("What did Anya Briar Forger study?"));
    QCOMPARE(questionText(p, Attribute::Employer),
             std::string("Which company does Anya Briar Forger work for?"));
    QCOMPARE(questionText(p, Attribute::EmployerCity),
             std::string("Where does Anya Briar Forger work?"));
    const std::vector<ChatItem> all = qaExamples(p);
    QCOMPARE(int(all.size()), kAttributeCount);
    for (int i = 0; i < kAttributeCount; ++i) {
        QCOMPARE(all[size_t(i)].assistant, p.value(kAttributes[size_t(i)]) + ".");
        QCOMPARE(attributeFromKey(attributeKey(kAttributes[size_t(i)])), kAttributes[size_t(i)]);
    }
    QVERIFY(!errorOf([] { attributeFromKey("shoe_size"); }).isEmpty());
    QCOMPARE(jsonQuoted("a\"b\\c\td\x01"), std::string("\"a\\\"b\\\\c\\td\\u0001\""));
}

void TestWorld::arithmeticProblems()
{
    WorldRng rng(9);
    std::set<char> ops;
    for (int steps = 1; steps <= kMaxArithmeticSteps; ++steps) {
        for (int n = 0; n < 300; ++n) {
            const ArithmeticProblem problem = generateArithmeticProblem(steps, rng);
            QCOMPARE(int(problem.steps.size()), steps);
            for (const ArithmeticStep &s : problem.steps) {
                ops.insert(s.symbol());
                QVERIFY2(problem.solution.find(s.equation()) != std::string::npos,
                         problem.solution.c_str());
            }
            QVERIFY(problem.solution.rfind("Answer: ", 0) == 0);
            checkSolution(problem.solution, problem.answer, steps);
            QCOMPARE(problem.answer, problem.steps.back().result);
            QVERIFY(endsWith(problem.question, "?"));
            const ChatItem item = problem.chatItem(12);
            QCOMPARE(item.id, std::string("arith_12"));
            QCOMPARE(item.dataset, std::string("arith"));
            QCOMPARE(item.user, "Answer the following question.\n\nQuestion: " + problem.question);
        }
    }
    QCOMPARE(int(ops.size()), 4);
    QVERIFY(!errorOf([&] { generateArithmeticProblem(0, rng); }).isEmpty());
    QVERIFY(!errorOf([&] { generateArithmeticProblem(5, rng); }).isEmpty());

    std::unordered_set<std::string> used;
    const std::vector<ArithmeticProblem> many = generateArithmeticProblems(2000, 1, 4, rng, used);
    std::set<std::string> questions;
    for (const ArithmeticProblem &p : many)
        QVERIFY(questions.insert(p.question).second);
    QCOMPARE(int(used.size()), 2000);

    // Same seed, same problems.
    WorldRng x(21), y(21);
    QCOMPARE(generateArithmeticProblem(3, x).solution, generateArithmeticProblem(3, y).solution);
}

void TestWorld::finalAnswerParsing()
{
    QCOMPARE(finalAnswer("Answer: 3+4=7. So the answer is 7.").value_or(-1), int64_t(7));
    QCOMPARE(finalAnswer("So the answer is 1,250.").value_or(-1), int64_t(1250));
    QCOMPARE(finalAnswer("So the answer is -4").value_or(0), int64_t(-4));
    QVERIFY(!finalAnswer("The answer is 7.").has_value());
    QVERIFY(!finalAnswer("So the answer is seven.").has_value());
    const std::vector<ArithmeticStep> steps = parseEquations("a 12+7=19 b 19*2=38, 38/2=19.");
    QCOMPARE(int(steps.size()), 3);
    QCOMPARE(steps[1].equation(), std::string("19*2=38"));
}

void TestWorld::recipeJson()
{
    WorldRecipe recipe = smallRecipe(12345);
    recipe.transferTrainFraction = 0.75;
    recipe.arithmeticMinSteps = 2;
    recipe.arithmeticDifficulty = 4;
    const QJsonObject json = recipe.toJson();
    QCOMPARE(json.value("teacher_people").toInt(), 40);
    QCOMPARE(json.value("transfer_train_fraction").toDouble(), 0.75);
    const WorldRecipe back = WorldRecipe::fromJson(json);
    QCOMPARE(back.toJson(), json);
    QCOMPARE(back.seed, uint64_t(12345));

    // Missing keys keep defaults.
    const WorldRecipe defaults = WorldRecipe::fromJson(QJsonObject{{"seed", 3}});
    QCOMPARE(defaults.seed, uint64_t(3));
    QCOMPARE(defaults.transferTrainFraction, 0.6);
    QCOMPARE(defaults.seedSamples, 32);
}

void TestWorld::recipeErrors()
{
    const auto fromJson = [](const QJsonObject &json) {
        return errorOf([&] { WorldRecipe::fromJson(json, "recipe.json"); });
    };
    QString e = fromJson(QJsonObject{{"teacher_peple", 5}});
    QVERIFY2(e.contains("recipe.json") && e.contains("teacher_peple"), qPrintable(e));
    e = fromJson(QJsonObject{{"teacher_people", "many"}});
    QVERIFY2(e.contains("teacher_people") && e.contains("integer"), qPrintable(e));
    e = fromJson(QJsonObject{{"teacher_people", 2.5}});
    QVERIFY2(e.contains("teacher_people"), qPrintable(e));
    e = fromJson(QJsonObject{{"student_qa_fraction", 1.5}});
    QVERIFY2(e.contains("student_qa_fraction"), qPrintable(e));
    e = fromJson(QJsonObject{{"arithmetic_difficulty", 5}});
    QVERIFY2(e.contains("arithmetic_difficulty"), qPrintable(e));
    e = fromJson(QJsonObject{{"arithmetic_min_steps", 3}, {"arithmetic_difficulty", 2}});
    QVERIFY2(e.contains("arithmetic_min_steps"), qPrintable(e));
    e = fromJson(QJsonObject{{"teacher_people", 4}});
    QVERIFY2(e.contains("seed_samples"), qPrintable(e));
    e = fromJson(QJsonObject{{"seed", -1}});
    QVERIFY2(e.contains("seed"), qPrintable(e));
    WorldRecipe bad = smallRecipe();
    bad.biographiesPerPerson = 0;
    e = errorOf([&] { generateWorld(bad); });
    QVERIFY2(e.contains("biographies_per_person"), qPrintable(e));
}

void TestWorld::sameSeedSameBytes()
{
    QTemporaryDir first, second, other;
    QVERIFY(first.isValid() && second.isValid() && other.isValid());
    const WorldSummary a = writeWorld(smallRecipe(7), first.path().toStdString());
    const WorldSummary b = writeWorld(smallRecipe(7), second.path().toStdString());
    writeWorld(smallRecipe(8), other.path().toStdString());
    QCOMPARE(a.records, b.records);
    QCOMPARE(int(a.records.size()), 20);

    const QStringList names = QDir(first.path()).entryList(QDir::Files, QDir::Name);
    QCOMPARE(names, QDir(second.path()).entryList(QDir::Files, QDir::Name));
    QCOMPARE(names.size(), 20);
    int differing = 0;
    for (const QString &name : names) {
        const QByteArray bytes = readAll(first.filePath(name));
        QVERIFY2(bytes == readAll(second.filePath(name)), qPrintable(name));
        if (bytes != readAll(other.filePath(name)))
            ++differing;
    }
    // Every file depends on the seed (world.json through the recipe it records), except
    // the candidate answers, which are the fixed value lists.
    QCOMPARE(differing, int(names.size()) - 1);
    QCOMPARE(readAll(first.filePath("candidates.json")), readAll(other.filePath("candidates.json")));
    QVERIFY(readAll(first.filePath("teacher_people.jsonl")) !=
            readAll(other.filePath("teacher_people.jsonl")));
}

void TestWorld::splitsAreDisjoint()
{
    const World world = generateWorld(smallRecipe());
    std::set<std::string> teacherNames;
    for (const WorldPerson &p : world.teacher)
        teacherNames.insert(p.person.fullName());
    for (const WorldPerson &p : world.student)
        QVERIFY(!teacherNames.count(p.person.fullName()));

    std::map<int, const WorldPerson *> byIndex;
    for (const auto *side : {&world.teacher, &world.student, &world.heldout})
        for (const WorldPerson &p : *side)
            byIndex[p.person.index] = &p;

    const std::string &train = world.file("transfer_train.jsonl").content;
    const std::string &eval = world.file("transfer_eval.jsonl").content;
    const std::set<int> trainPeople = peopleIn(train);
    const std::set<int> evalPeople = peopleIn(eval);
    QCOMPARE(int(trainPeople.size()), 12);   // round(round(40 * 0.5) * 0.6)
    QCOMPARE(int(evalPeople.size()), 8);
    for (const int index : evalPeople) {
        QVERIFY(!trainPeople.count(index));
        const WorldPerson &p = *byIndex.at(index);
        QCOMPARE(p.split, std::string("transfer_eval"));
        QVERIFY2(train.find(p.person.fullName()) == std::string::npos,
                 p.person.fullName().c_str());
    }
    for (const int index : trainPeople)
        QCOMPARE(byIndex.at(index)->split, std::string("transfer_train"));

    // Seeds are transfer_train lines, all different.
    const std::vector<std::string> trainLines = splitLines(train);
    const std::set<std::string> trainSet(trainLines.begin(), trainLines.end());
    const std::vector<std::string> seeds = splitLines(world.file("transfer_seeds.jsonl").content);
    QCOMPARE(int(seeds.size()), 32);
    QCOMPARE(int(std::set<std::string>(seeds.begin(), seeds.end()).size()), 32);
    for (const std::string &line : seeds)
        QVERIFY(trainSet.count(line));

    // Bio-only people never have QA in pretraining, on either side.
    const std::string pretrainQa = world.file("teacher_pretrain_qa.jsonl").content +
                                   world.file("student_pretrain_qa.jsonl").content;
    const std::set<int> pretrainPeople = peopleIn(pretrainQa);
    for (const char *file : {"teacher_bio_only_qa.jsonl", "student_bio_only_qa.jsonl"}) {
        const std::set<int> bioOnly = peopleIn(world.file(file).content);
        QCOMPARE(int(bioOnly.size()), 20);
        for (const int index : bioOnly) {
            const WorldPerson &p = *byIndex.at(index);
            QVERIFY(!p.qaInPretraining);
            QCOMPARE(p.split, std::string("bio_only"));
            QVERIFY(!pretrainPeople.count(index));
            QVERIFY(pretrainQa.find(p.person.fullName()) == std::string::npos);
        }
    }
    // Teacher QA people are exactly transfer_train + transfer_eval.
    std::set<int> teacherQa = peopleIn(world.file("teacher_pretrain_qa.jsonl").content);
    std::set<int> both = trainPeople;
    both.insert(evalPeople.begin(), evalPeople.end());
    QCOMPARE(teacherQa, both);

    // Arithmetic: eval and transfer problems share no question; seeds come from transfer.
    const auto questions = [&](const char *file) {
        std::set<std::string> out;
        for (const std::string &line : splitLines(world.file(file).content))
            out.insert(line.substr(line.find("\"messages\"")));
        return out;
    };
    const std::set<std::string> arithEval = questions("arith_eval.jsonl");
    const std::set<std::string> arithTransfer = questions("arith_transfer_train.jsonl");
    for (const char *file : {"arith_transfer_train.jsonl", "arith_teacher_train.jsonl",
                             "arith_student_train.jsonl"})
        for (const std::string &q : questions(file))
            QVERIFY(!arithEval.count(q));
    const std::vector<std::string> arithSeeds = splitLines(world.file("arith_seeds.jsonl").content);
    const std::vector<std::string> transferLines =
        splitLines(world.file("arith_transfer_train.jsonl").content);
    QCOMPARE(int(arithSeeds.size()), 32);
    for (const std::string &line : arithSeeds)
        QVERIFY(std::find(transferLines.begin(), transferLines.end(), line) != transferLines.end());

    // Held-out people appear in no file but their own.
    for (const WorldPerson &p : world.heldout)
        for (const WorldFile &file : world.files)
            if (file.name != "heldout_bios.txt")
                QVERIFY2(file.content.find(p.person.fullName()) == std::string::npos,
                         (file.name + ": " + p.person.fullName()).c_str());
}

void TestWorld::worldFilesAreCorrect()
{
    const WorldRecipe recipe = smallRecipe();
    const World world = generateWorld(recipe);
    std::map<int, const WorldPerson *> byIndex;
    for (const auto *side : {&world.teacher, &world.student, &world.heldout})
        for (const WorldPerson &p : *side)
            byIndex[p.person.index] = &p;

    // Every QA answer is the value and a period; the question names the person.
    for (const WorldFile &file : world.files) {
        if (file.name.find("qa") == std::string::npos && file.name.rfind("transfer", 0) != 0)
            continue;
        QTemporaryDir dir;
        const QString path = dir.filePath(QString::fromStdString(file.name));
        QFile out(path);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(file.content.data(), qint64(file.content.size()));
        out.close();
        const std::vector<nugget::ChatExample> examples = nugget::readChatJsonl(path.toStdString());
        QCOMPARE(int64_t(examples.size()), file.records);
        for (const nugget::ChatExample &example : examples) {
            const QRegularExpression id(QStringLiteral("^bioqa_(\\d+)_([a-z_]+)$"));
            const QRegularExpressionMatch m = id.match(QString::fromStdString(example.id));
            QVERIFY2(m.hasMatch(), example.id.c_str());
            const Person &person = byIndex.at(m.captured(1).toInt())->person;
            const Attribute attribute = attributeFromKey(m.captured(2).toStdString());
            QCOMPARE(example.dataset, std::string("bioqa"));
            QCOMPARE(nugget::answerText(example), person.value(attribute) + ".");
            QCOMPARE(example.messages.front().content,
                     "Answer the question about the person.\n\nQuestion: " +
                         questionText(person, attribute));
            QCOMPARE(example.fields.value(QStringLiteral("person")).toString().toStdString(), person.fullName());
            QCOMPARE(example.fields.value(QStringLiteral("attribute")).toString().toStdString(),
                     attributeKey(attribute));
        }
    }

    // Every biography line of a side's file states every value of one of its people, and
    // each person has biographiesPerPerson of them.
    for (const auto &[name, side] :
         std::vector<std::pair<std::string, const std::vector<WorldPerson> *>>{
             {"teacher_pretrain_bios.txt", &world.teacher},
             {"student_pretrain_bios.txt", &world.student},
             {"heldout_bios.txt", &world.heldout}}) {
        const std::vector<std::string> lines = splitLines(world.file(name).content);
        QCOMPARE(int(lines.size()), int(side->size()) * recipe.biographiesPerPerson);
        std::map<std::string, int> perPerson;
        for (const std::string &line : lines) {
            const WorldPerson *owner = nullptr;
            for (const WorldPerson &p : *side)
                if (line.rfind(p.person.fullName(), 0) == 0 ||
                    line.find(" " + p.person.fullName() + " ") != std::string::npos) {
                    owner = &p;
                    break;
                }
            QVERIFY2(owner, line.c_str());
            ++perPerson[owner->person.fullName()];
            for (const Attribute attribute : kAttributes)
                QVERIFY2(line.find(owner->person.value(attribute)) != std::string::npos,
                         line.c_str());
        }
        QCOMPARE(int(perPerson.size()), int(side->size()));
        for (const auto &entry : perPerson)
            QCOMPARE(entry.second, recipe.biographiesPerPerson);
    }

    // Arithmetic files: correct worked answers.
    for (const char *name : {"arith_teacher_train.jsonl", "arith_student_train.jsonl",
                             "arith_transfer_train.jsonl", "arith_eval.jsonl",
                             "arith_seeds.jsonl"}) {
        std::set<std::string> ids;
        for (const std::string &line : splitLines(world.file(name).content)) {
            const QJsonObject json =
                QJsonDocument::fromJson(QByteArray::fromStdString(line)).object();
            QCOMPARE(json.value("dataset").toString(), QStringLiteral("arith"));
            QVERIFY(json.value("id").toString().startsWith("arith_"));
            ids.insert(json.value("id").toString().toStdString());
            const QJsonObject reply = json.value("messages").toArray().at(1).toObject();
            const std::string answer = reply.value("content").toString().toStdString();
            const std::optional<int64_t> n = finalAnswer(answer);
            QVERIFY(n.has_value());
            checkSolution(answer, *n, 0);
        }
        QCOMPARE(int64_t(ids.size()), world.file(name).records);
    }

    // Counts.
    QCOMPARE(world.file("teacher_pretrain_qa.jsonl").records, int64_t(20 * 6));
    QCOMPARE(world.file("transfer_train.jsonl").records, int64_t(12 * 6));
    QCOMPARE(world.file("transfer_eval.jsonl").records, int64_t(8 * 6));
    QCOMPARE(world.file("arith_eval.jsonl").records, int64_t(recipe.arithmeticEvalCount));
    QCOMPARE(world.file("arith_teacher_train.jsonl").records,
             int64_t(recipe.arithmeticTeacherCount));
    QVERIFY(world.file("tokenizer_corpus.txt").records > 1000);

    // world.json holds the recipe and the counts.
    const QJsonObject info =
        QJsonDocument::fromJson(QByteArray::fromStdString(world.file("world.json").content))
            .object();
    QCOMPARE(WorldRecipe::fromJson(info.value("recipe").toObject()).toJson(), recipe.toJson());
    const QJsonObject records = info.value("records").toObject();
    QCOMPARE(records.size(), 19);
    for (const WorldFile &file : world.files)
        if (file.name != "world.json")
            QCOMPARE(records.value(QString::fromStdString(file.name)).toInteger(), file.records);
}

void TestWorld::chatDatasetReadsEveryFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const WorldRecipe recipe = smallRecipe();
    const WorldSummary summary = writeWorld(recipe, dir.path().toStdString());
    const World world = generateWorld(recipe);
    int chatFiles = 0;
    for (const auto &[name, records] : summary.records) {
        const std::string path = dir.filePath(QString::fromStdString(name)).toStdString();
        QVERIFY(QFileInfo::exists(QString::fromStdString(path)));
        if (!endsWith(name, ".jsonl"))
            continue;
        if (endsWith(name, "_people.jsonl")) {
            const std::vector<WorldPerson> people = readPeopleJsonl(path);
            const std::vector<WorldPerson> &expected =
                name == "teacher_people.jsonl" ? world.teacher : world.student;
            QCOMPARE(people.size(), expected.size());
            for (size_t i = 0; i < people.size(); ++i) {
                QCOMPARE(personJsonLine(people[i]), personJsonLine(expected[i]));
            }
            continue;
        }
        const std::vector<nugget::ChatExample> examples = nugget::readChatJsonl(path);
        QCOMPARE(int64_t(examples.size()), records);
        for (const nugget::ChatExample &example : examples) {
            QCOMPARE(int(example.messages.size()), 2);
            QCOMPARE(example.messages[0].role, std::string("user"));
            QCOMPARE(example.messages[1].role, std::string("assistant"));
        }
        ++chatFiles;
    }
    QCOMPARE(chatFiles, 12);   // 7 biography QA files, 5 arithmetic files

    // Text files: UTF-8, one record per line, no empty lines.
    for (const char *name : {"teacher_pretrain_bios.txt", "student_pretrain_bios.txt",
                             "heldout_bios.txt", "tokenizer_corpus.txt"}) {
        const QByteArray bytes = readAll(dir.filePath(name));
        QVERIFY(bytes.endsWith('\n'));
        QVERIFY(!bytes.contains("\n\n"));
        QVERIFY(!bytes.contains('\r'));
    }
}

void TestWorld::smallWorldIsFast()
{
    QTemporaryDir dir;
    QElapsedTimer timer;
    timer.start();
    writeWorld(smallRecipe(), dir.path().toStdString());
    const qint64 ms = timer.elapsed();
    qInfo("small world written in %lld ms", static_cast<long long>(ms));
    QVERIFY2(ms < 1000, qPrintable(QString::number(ms)));
}

QTEST_GUILESS_MAIN(TestWorld)
#include "test_world.moc"

