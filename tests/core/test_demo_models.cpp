// The shipped demo pair does what resources/demo/README.md says: the teacher knows the
// transfer-evaluation people, the student knows its own people and not the teacher's.

#include "TestSupport.h"

#include "eval/TaskEvaluation.h"
#include "model/ModelFolder.h"
#include "text/Tokenizer.h"

using namespace nugget;

namespace {

QString demo(const QString &relative) { return nugget::test::sourceDir() + QStringLiteral("/resources/demo/") + relative; }

double exactMatch(const QString &model, const QString &data, int64_t limit)
{
    auto loaded = loadModelFolder(demo(model).toStdString());
    const auto tokenizer = Tokenizer::load(loaded.tokenizerPath);
    EvalOptions options;
    options.limit = limit;
    options.maxNewTokens = 24;
    return evaluateGenerated(loaded.model, *tokenizer, readChatJsonl(demo(data).toStdString()), EvalMetric::ExactMatch,
                             options)
        .score;
}

} // namespace

class TestDemoModels : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFileInfo::exists(demo(QStringLiteral("teacher/config.json"))))
            QSKIP("the demo pair is not in resources/demo");
    }

    void teacherKnowsTheTransferPeople()
    {
        const double score = exactMatch(QStringLiteral("teacher"), QStringLiteral("tasks/transfer_eval.jsonl"), 120);
        qInfo("teacher exact match on transfer_eval (first 120): %.1f%%", 100 * score);
        QVERIFY(score >= 0.9);
    }

    void studentKnowsItsOwnPeopleOnly()
    {
        const double own = exactMatch(QStringLiteral("student"), QStringLiteral("tasks/student_pretrain_qa.jsonl"), 120);
        const double theirs = exactMatch(QStringLiteral("student"), QStringLiteral("tasks/transfer_eval.jsonl"), 120);
        qInfo("student exact match: own QA %.1f%%, transfer_eval %.1f%%", 100 * own, 100 * theirs);
        QVERIFY(own >= 0.9);
        QVERIFY(theirs <= 0.05);
    }
};

QTEST_GUILESS_MAIN(TestDemoModels)
#include "test_demo_models.moc"
