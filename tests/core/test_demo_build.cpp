// The demo pipeline end to end on a tiny recipe: world, tokenizer, two pretrained
// models, manifest with hashes; a rerun of one side reuses the world; cancel stops.

#include "TestSupport.h"

#include "Error.h"
#include "io/FileHash.h"
#include "model/ModelFolder.h"
#include "text/Tokenizer.h"
#include "zoo/DemoRecipe.h"

#include <QJsonDocument>
#include <QTemporaryDir>

using namespace nugget;

namespace {

QJsonObject tinyRecipe()
{
    const auto architecture = [](int hidden, int layers) {
        return QJsonObject{{QStringLiteral("hidden_size"), hidden},
                           {QStringLiteral("intermediate_size"), 2 * hidden},
                           {QStringLiteral("num_hidden_layers"), layers},
                           {QStringLiteral("num_attention_heads"), 2},
                           {QStringLiteral("num_key_value_heads"), 1},
                           {QStringLiteral("max_position_embeddings"), 128},
                           {QStringLiteral("rms_norm_eps"), 1e-5}};
    };
    const QJsonObject training{{QStringLiteral("epochs"), 1},      {QStringLiteral("batch_size"), 4},
                               {QStringLiteral("sequence_length"), 64}, {QStringLiteral("learning_rate"), 0.003},
                               {QStringLiteral("warmup_steps"), 2}, {QStringLiteral("eval_every"), 0},
                               {QStringLiteral("checkpoint_every"), 0}};
    auto json = QJsonDocument::fromJson(R"({
        "world": {"seed": 5, "teacher_people": 14, "student_people": 12, "heldout_people": 2,
                  "biographies_per_person": 2, "teacher_qa_fraction": 0.5, "student_qa_fraction": 0.5,
                  "transfer_train_fraction": 0.6, "seed_samples": 4, "arithmetic_teacher_count": 10,
                  "arithmetic_student_count": 5, "arithmetic_transfer_count": 8, "arithmetic_eval_count": 4},
        "tokenizer": {"vocab_size": 400},
        "storage_dtype": "bfloat16"})")
                    .object();
    json[QStringLiteral("teacher")] =
        QJsonObject{{QStringLiteral("architecture"), architecture(32, 2)}, {QStringLiteral("training"), training}};
    json[QStringLiteral("student")] =
        QJsonObject{{QStringLiteral("architecture"), architecture(16, 1)}, {QStringLiteral("training"), training}};
    return json;
}

} // namespace

class TestDemoBuild : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void buildsWorldTokenizerAndBothModels()
    {
        QTemporaryDir dir;
        const auto recipe = zoo::DemoRecipe::fromJson(tinyRecipe(), "tiny recipe");
        Progress progress;
        std::vector<std::string> stages;
        zoo::DemoBuildOptions options;
        options.log = [&](const std::string &line) { stages.push_back(line); };
        const auto manifest = zoo::buildDemo(recipe, dir.path().toStdString(), options, progress);

        const auto teacher = loadModelFolder((dir.path() + QStringLiteral("/teacher")).toStdString());
        const auto student = loadModelFolder((dir.path() + QStringLiteral("/student")).toStdString());
        const auto tokenizer = Tokenizer::load((dir.path() + QStringLiteral("/tokenizer.model")).toStdString());
        QCOMPARE(teacher.config.vocabSize, tokenizer->vocabSize());
        QCOMPARE(student.config.vocabSize, tokenizer->vocabSize());
        QCOMPARE(teacher.config.hiddenSize, int64_t(32));
        QCOMPARE(student.config.numHiddenLayers, int64_t(1));
        QCOMPARE(teacher.config.torchDtype, std::string("bfloat16"));
        QVERIFY(!teacher.tokenizerPath.empty());
        QVERIFY(!QFileInfo::exists(dir.path() + QStringLiteral("/teacher.checkpoint")));   // removed when done

        const auto hashes = manifest.value(QStringLiteral("sha256")).toObject();
        for (const char *file : {"tokenizer.model", "teacher/model.safetensors", "student/config.json",
                                 "tasks/transfer_eval.jsonl", "tasks/world.json"})
            QVERIFY2(hashes.value(QLatin1String(file)).toString().size() == 64, file);
        QCOMPARE(hashes.value(QStringLiteral("tokenizer.model")).toString().toStdString(),
                 fileSha256((dir.path() + QStringLiteral("/tokenizer.model")).toStdString()));
        QVERIFY(manifest.value(QStringLiteral("training")).toObject().contains(QStringLiteral("teacher")));

        // Retraining one side reuses the world and the tokenizer byte for byte.
        options.trainTeacher = false;
        options.reuseWorld = true;
        const auto again = zoo::buildDemo(recipe, dir.path().toStdString(), options, progress);
        QCOMPARE(again.value(QStringLiteral("sha256")).toObject().value(QStringLiteral("tokenizer.model")),
                 hashes.value(QStringLiteral("tokenizer.model")));
        QVERIFY(again.value(QStringLiteral("training")).toObject().contains(QStringLiteral("teacher")));
    }

    void regeneratedTokenizerIsByteIdentical()
    {
        QTemporaryDir dir;
        auto json = tinyRecipe();
        const auto recipe = zoo::DemoRecipe::fromJson(json, "tiny recipe");
        zoo::DemoBuildOptions options;
        options.trainTeacher = options.trainStudent = false;
        Progress progress;
        const auto first = zoo::buildDemo(recipe, dir.path().toStdString(), options, progress);
        const auto second = zoo::buildDemo(recipe, dir.path().toStdString(), options, progress);
        QCOMPARE(first.value(QStringLiteral("sha256")), second.value(QStringLiteral("sha256")));
    }

    void cancelStopsTheBuild()
    {
        QTemporaryDir dir;
        const auto recipe = zoo::DemoRecipe::fromJson(tinyRecipe(), "tiny recipe");
        Progress progress;
        zoo::DemoBuildOptions options;
        options.onStep = [&](const std::string &, const TrainingStep &) { progress.cancel(); };
        QVERIFY_THROWS_EXCEPTION(Cancelled, zoo::buildDemo(recipe, dir.path().toStdString(), options, progress));
        QVERIFY(!QFileInfo::exists(dir.path() + QStringLiteral("/teacher/model.safetensors")));
        QVERIFY(!QFileInfo::exists(dir.path() + QStringLiteral("/manifest.json")) ||
                !QFileInfo::exists(dir.path() + QStringLiteral("/teacher")));
    }

    void badRecipesAreRejected()
    {
        auto json = tinyRecipe();
        auto teacher = json.value(QStringLiteral("teacher")).toObject();
        teacher.remove(QStringLiteral("architecture"));
        json[QStringLiteral("teacher")] = teacher;
        QVERIFY_THROWS_EXCEPTION(Error, zoo::DemoRecipe::fromJson(json, "tiny recipe"));
        QVERIFY_THROWS_EXCEPTION(Error, zoo::DemoRecipe::fromJsonFile("/nonexistent/recipe.json"));
    }
};

QTEST_GUILESS_MAIN(TestDemoBuild)
#include "test_demo_build.moc"
