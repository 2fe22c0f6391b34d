// The transfer commands end to end on a tiny demo pair built by `nugget-cli zoo`:
// extract records a selection the session gives back, train continues from the
// extracted adapter, transfer writes session + adapter + merged model, and bad pairs
// are refused without leaving files behind. extract streams the teacher (mapped
// weights, scores read from the session one matrix at a time) and writes the adapter
// the in-memory extraction of the loaded teacher gives.

#include "EngineTestSupport.h"
#include "SessionLayout.h"
#include "TestSupport.h"

#include "io/PeftAdapter.h"
#include "io/Safetensors.h"
#include "io/Session.h"
#include "io/TensorStore.h"
#include "model/LoraAdapters.h"
#include "model/ModelFolder.h"
#include "transfer/TransferRecipe.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <torch/torch.h>

using nugget::test::runCli;

namespace {

const char *kRecipe = R"({
  "world": {"seed": 5, "teacher_people": 14, "student_people": 12, "heldout_people": 2,
            "biographies_per_person": 2, "teacher_qa_fraction": 0.5, "student_qa_fraction": 0.5,
            "transfer_train_fraction": 0.6, "seed_samples": 4, "arithmetic_teacher_count": 10,
            "arithmetic_student_count": 5, "arithmetic_transfer_count": 8, "arithmetic_eval_count": 4},
  "tokenizer": {"vocab_size": 400},
  "teacher": {"architecture": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
              "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128},
              "training": {"epochs": 1, "batch_size": 4, "sequence_length": 64}},
  "student": {"architecture": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128},
              "training": {"epochs": 1, "batch_size": 4, "sequence_length": 64}}
})";

} // namespace

class TestTransferCli : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    QString path(const QString &relative) const { return m_dir.path() + u'/' + relative; }

private Q_SLOTS:
    void initTestCase()
    {
        QFile recipe(path(QStringLiteral("recipe.json")));
        QVERIFY(recipe.open(QIODevice::WriteOnly));
        recipe.write(kRecipe);
        recipe.close();
        const auto run = runCli({QStringLiteral("zoo"), QStringLiteral("--recipe"), QStringLiteral("recipe.json"),
                                 QStringLiteral("--out"), QStringLiteral("demo")},
                                m_dir.path());
        QVERIFY2(run.exitCode == 0, run.err.constData());
    }

    void extractRecordsASelectionTheSessionGivesBack()
    {
        const auto run = runCli({QStringLiteral("extract"), QStringLiteral("--teacher"), QStringLiteral("demo/teacher"),
                                 QStringLiteral("--student"), QStringLiteral("demo/student"), QStringLiteral("--session"),
                                 QStringLiteral("s.h5"), QStringLiteral("--seeds"), QStringLiteral("demo/tasks/transfer_seeds.jsonl"),
                                 QStringLiteral("--rank"), QStringLiteral("4"), QStringLiteral("--out"), QStringLiteral("adapter")},
                                m_dir.path());
        QVERIFY2(run.exitCode == 0, run.err.constData());
        auto session = nugget::Session::openReadOnly(path(QStringLiteral("s.h5")).toStdString());
        const auto selection = session.readSelection();
        QCOMPARE(selection.size(), size_t(2));
        QString printed = QStringLiteral("teacher layers");
        for (size_t i = 0; i < selection.size(); ++i)
            printed += QStringLiteral(" %1->%2").arg(selection[i]).arg(i);
        QVERIFY2(run.out.contains(printed.toUtf8()), run.out.constData());
        QVERIFY(session.hasSensitivity(nugget::Side::Teacher));
        QVERIFY(session.readReduction("model.layers." + std::to_string(selection[0]) + ".mlp.up_proj.weight"));

        // The extracted adapter over the untouched student ([A0; A0], [B0, -B0]) is exactly the student.
        auto student = nugget::loadModelFolder(path(QStringLiteral("demo/student")).toStdString());
        auto rebuilt = nugget::loadModelFolder(path(QStringLiteral("demo/student")).toStdString());
        const auto extracted = nugget::readPeftAdapter(path(QStringLiteral("adapter")).toStdString());
        QCOMPARE(extracted.settings.rank, int64_t(8));
        QVERIFY(!QFile::exists(path(QStringLiteral("adapter/delta"))));
        nugget::attachAdapter(rebuilt.model, extracted);
        torch::NoGradGuard noGrad;
        const auto ids = torch::tensor(std::vector<int64_t>{1, 20, 30, 40, 50}).unsqueeze(0);
        QVERIFY((student.model->forward(ids) - rebuilt.model->forward(ids)).abs().max().item<double>() < 1e-4);
    }

    void extractedAdapterEqualsTheInMemoryExtraction_data()
    {
        QTest::addColumn<QString>("pair");   // a folder holding teacher/, student/ and tasks/
        QTest::addColumn<QString>("structure");
        const QString builtIn = nugget::test::sourceDir() + QStringLiteral("/resources/demo");
        QTest::newRow("zoo pair, submatrix") << path(QStringLiteral("demo")) << QStringLiteral("submatrix");
        QTest::newRow("built-in pair (bf16 teacher), submatrix") << builtIn << QStringLiteral("submatrix");
        QTest::newRow("built-in pair, rowcol") << builtIn << QStringLiteral("rowcol");
        QTest::newRow("built-in pair, neuron") << builtIn << QStringLiteral("neuron");
    }

    void extractedAdapterEqualsTheInMemoryExtraction()
    {
        QFETCH(QString, pair);
        QFETCH(QString, structure);
        QTemporaryDir dir;
        const QString teacher = pair + QStringLiteral("/teacher"), student = pair + QStringLiteral("/student");
        const QString session = dir.filePath(QStringLiteral("s.h5")), out = dir.filePath(QStringLiteral("adapter"));
        const auto run = runCli({QStringLiteral("extract"), QStringLiteral("--teacher"), teacher, QStringLiteral("--student"),
                                 student, QStringLiteral("--session"), session, QStringLiteral("--seeds"),
                                 pair + QStringLiteral("/tasks/transfer_seeds.jsonl"), QStringLiteral("--max-length"),
                                 QStringLiteral("64"), QStringLiteral("--rank"), QStringLiteral("4"),
                                 QStringLiteral("--structure"), structure, QStringLiteral("--device"),
                                 QStringLiteral("cpu"), QStringLiteral("--adapter-form"), QStringLiteral("delta"),
                                 QStringLiteral("--out"), out});
        QVERIFY2(run.exitCode == 0, run.err.constData());

        // The same recipe in memory: the teacher loaded whole, every score in one map.
        nugget::TransferRecipe recipe;
        recipe.structure = structure.toStdString();
        recipe.lora = {4, 4.0, 0.05};
        auto models = nugget::loadModelPair(teacher.toStdString(), student.toStdString());
        QVERIFY(models.teacher.model);
        const auto recorded = nugget::Session::openReadOnly(session.toStdString());
        const auto scores = nugget::loadSensitivity(recorded, nugget::Side::Teacher);
        nugget::Progress progress;
        const auto extraction = nugget::extractForRecipe(recipe, models.teacher.config, models.student.config,
                                                         nugget::teacherInMemory(models.teacher, scores), progress);
        QCOMPARE(recorded.readSelection(), extraction.selection.teacherLayers);
        const auto deltas = nugget::injectTransfer(models.student.model, extraction, recipe.lora);
        const auto expected = nugget::adapterOf(models.student.model, student.toStdString());

        auto close = [](const at::Tensor &actual, const at::Tensor &reference) {
            return actual.sizes() == reference.sizes() &&
                   (actual - reference).abs().max().item<double>() <= 1e-5 * reference.abs().max().item<double>();
        };
        const auto written = nugget::readPeftAdapter(out.toStdString());
        QCOMPARE(written.settings.rank, int64_t(4));
        QCOMPARE(written.factors.size(), expected.factors.size());
        QCOMPARE(expected.factors.size(), extraction.matrices.size());
        for (const auto &[name, factors] : expected.factors) {
            QVERIFY2(written.factors.count(name), name.c_str());
            QVERIFY2(close(written.factors.at(name).a, factors.a), name.c_str());
            QVERIFY2(close(written.factors.at(name).b, factors.b), name.c_str());
        }
        const auto delta = nugget::readPeftAdapter(dir.filePath(QStringLiteral("adapter/delta")).toStdString());
        QCOMPARE(delta.factors.size(), deltas.size());
        for (const auto &[name, factors] : deltas) {
            QVERIFY2(delta.factors.count(name), name.c_str());
            QVERIFY2(close(delta.factors.at(name).a, factors.a), name.c_str());
            QVERIFY2(close(delta.factors.at(name).b, -factors.b), name.c_str());
        }
    }

    void trainContinuesFromTheExtractedAdapter()
    {
        const auto run = runCli({QStringLiteral("train"), QStringLiteral("--student"), QStringLiteral("demo/student"),
                                 QStringLiteral("--init"), QStringLiteral("adapter"), QStringLiteral("--train"),
                                 QStringLiteral("demo/tasks/transfer_train.jsonl"), QStringLiteral("--eval"),
                                 QStringLiteral("demo/tasks/transfer_eval.jsonl"), QStringLiteral("--eval-limit"),
                                 QStringLiteral("4"), QStringLiteral("--epochs"), QStringLiteral("1"),
                                 QStringLiteral("--out"), QStringLiteral("trained"),
                                 QStringLiteral("--merged"), QStringLiteral("merged")},
                                m_dir.path());
        QVERIFY2(run.exitCode == 0, run.err.constData());
        QVERIFY(run.out.contains("exact-match"));
        QVERIFY(QFile::exists(path(QStringLiteral("trained/adapter_model.safetensors"))));
        QVERIFY(QFile::exists(path(QStringLiteral("trained/nugget_adapter.json"))));
        QVERIFY(!QFile::exists(path(QStringLiteral("trained/delta"))));
        QVERIFY(QFile::exists(path(QStringLiteral("merged/model.safetensors"))));
    }

    void transferRunsTheWholePipeline()
    {
        const auto run = runCli({QStringLiteral("transfer"), QStringLiteral("--teacher"), QStringLiteral("demo/teacher"),
                                 QStringLiteral("--student"), QStringLiteral("demo/student"), QStringLiteral("--seeds"),
                                 QStringLiteral("demo/tasks/transfer_seeds.jsonl"), QStringLiteral("--train"),
                                 QStringLiteral("demo/tasks/transfer_train.jsonl"), QStringLiteral("--eval"),
                                 QStringLiteral("demo/tasks/transfer_eval.jsonl"), QStringLiteral("--eval-limit"),
                                 QStringLiteral("4"), QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--rank"),
                                 QStringLiteral("4"), QStringLiteral("--structure"), QStringLiteral("rowcol"),
                                 QStringLiteral("--out"), QStringLiteral("run")},
                                m_dir.path());
        QVERIFY2(run.exitCode == 0, run.err.constData());
        auto session = nugget::Session::openReadOnly(path(QStringLiteral("run/session.h5")).toStdString());
        QCOMPARE(session.recipe().value(QStringLiteral("structure")).toString(), QStringLiteral("rowcol"));
        QVERIFY(session.inputSha256().size() >= 6);
        QVERIFY(session.readRun("transfer"));
        QVERIFY(nugget::loadModelFolder(path(QStringLiteral("run/merged")).toStdString()).model);
    }

    // The workbench writes the session of the same recipe with the layout `transfer`
    // wrote above: the same groups, datasets, dtypes, shapes and attribute names
    // (compared through HDF5's own listing, not through nugget::Session).
    void workbenchSessionHasTheLayoutOfTheCli()
    {
        const auto cliSession = path(QStringLiteral("run/session.h5"));
        QVERIFY2(QFile::exists(cliSession), "transferRunsTheWholePipeline writes it");
        nugget::TransferRecipe recipe;
        recipe.teacher = path(QStringLiteral("demo/teacher")).toStdString();
        recipe.student = path(QStringLiteral("demo/student")).toStdString();
        recipe.seeds = path(QStringLiteral("demo/tasks/transfer_seeds.jsonl")).toStdString();
        recipe.train = path(QStringLiteral("demo/tasks/transfer_train.jsonl")).toStdString();
        recipe.eval = path(QStringLiteral("demo/tasks/transfer_eval.jsonl")).toStdString();
        recipe.evalLimit = 4;
        recipe.training.epochs = 1;
        recipe.lora.rank = 4;
        recipe.lora.alpha = 4;
        recipe.structure = "rowcol";
        recipe.init = "transfer";

        nugget::WorkbenchEngine engine;
        nugget::test::JobOutcomes outcomes(engine);
        auto done = [&](int job) {
            const auto outcome = outcomes.wait(job);
            QVERIFY2(outcome.state == nugget::JobState::Done, qPrintable(outcome.message));
        };
        done(engine.loadPair(QString::fromStdString(recipe.teacher), QString::fromStdString(recipe.student)));
        nugget::TaskFiles task;
        task.seeds = QString::fromStdString(recipe.seeds);
        task.train = QString::fromStdString(recipe.train);
        task.eval = QString::fromStdString(recipe.eval);
        done(engine.loadTask(task, int(recipe.maxLength)));
        nugget::SensitivityRequest request;
        request.maxLength = int(recipe.maxLength);
        request.similarity = false;
        done(engine.computeSensitivity(request));
        done(engine.runTransfer(recipe, QStringLiteral("transfer")));
        const auto guiSession = path(QStringLiteral("gui-session.h5"));
        done(engine.saveSession(guiSession, recipe, {}, QStringLiteral("sensitivity")));

        const auto cli = nugget::test::sessionLayout(cliSession);
        const auto gui = nugget::test::sessionLayout(guiSession);
        QVERIFY(cli.size() > 20);
        QCOMPARE(gui, cli);
        // The run records carry the same attributes (values differ only in time taken).
        const auto cliRun = nugget::Session::openReadOnly(cliSession.toStdString()).readRun("transfer");
        const auto guiRun = nugget::Session::openReadOnly(guiSession.toStdString()).readRun("transfer");
        QVERIFY(cliRun && guiRun);
        QCOMPARE(guiRun->columns, cliRun->columns);
        QCOMPARE(guiRun->evaluation.keys(), cliRun->evaluation.keys());
        for (const auto *key : {"condition", "init", "seed", "metric", "items", "teacher_layers"})
            QCOMPARE(guiRun->evaluation.value(QLatin1String(key)), cliRun->evaluation.value(QLatin1String(key)));
    }

    // A flag a command would ignore is refused before any work, saying why: an adapter
    // brings its own rank, alpha, dropout and matrices; extract does not train and
    // train does not extract.
    void ignoredFlagsAreRefused_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        const QStringList fromAdapter{QStringLiteral("train"), QStringLiteral("--student"), QStringLiteral("demo/student"),
                                      QStringLiteral("--init"), QStringLiteral("adapter"), QStringLiteral("--train"),
                                      QStringLiteral("demo/tasks/transfer_train.jsonl"), QStringLiteral("--out"),
                                      QStringLiteral("refused")};
        const auto with = QStringLiteral(" has no effect with --init ADAPTER_DIR: ");
        QTest::newRow("train --init DIR --rank") << fromAdapter + QStringList{QStringLiteral("--rank"), QStringLiteral("4")}
                                                 << QStringLiteral("--rank") + with + QStringLiteral("the rank comes from the adapter");
        QTest::newRow("train --init DIR --alpha") << fromAdapter + QStringList{QStringLiteral("--alpha"), QStringLiteral("8")}
                                                  << QStringLiteral("--alpha") + with + QStringLiteral("the alpha comes from the adapter");
        QTest::newRow("train --init DIR --dropout")
            << fromAdapter + QStringList{QStringLiteral("--dropout"), QStringLiteral("0.1")}
            << QStringLiteral("--dropout") + with + QStringLiteral("the dropout comes from the adapter");
        QTest::newRow("train --init DIR --origin") << fromAdapter + QStringList{QStringLiteral("--origin"), QStringLiteral("ffn")}
                                                   << QStringLiteral("--origin") + with;
        QTest::newRow("train --init DIR --split") << fromAdapter + QStringList{QStringLiteral("--split"), QStringLiteral("pissa")}
                                                  << QStringLiteral("--split") + with;
        QStringList lora = fromAdapter;
        lora[4] = QStringLiteral("lora");
        QTest::newRow("train --init lora --split") << lora + QStringList{QStringLiteral("--split"), QStringLiteral("pissa")}
                                                   << QStringLiteral("--split has no effect with --init lora");
        QTest::newRow("train --metric without --eval")
            << lora + QStringList{QStringLiteral("--metric"), QStringLiteral("choice")}
            << QStringLiteral("--metric has no effect without --eval");
        QTest::newRow("train --structure") << lora + QStringList{QStringLiteral("--structure"), QStringLiteral("rowcol")}
                                           << QStringLiteral("Unknown option 'structure'");
        QTest::newRow("train --layers") << lora + QStringList{QStringLiteral("--layers"), QStringLiteral("top")}
                                        << QStringLiteral("Unknown option 'layers'");
        const QStringList extract{QStringLiteral("extract"), QStringLiteral("--teacher"), QStringLiteral("demo/teacher"),
                                  QStringLiteral("--student"), QStringLiteral("demo/student"), QStringLiteral("--session"),
                                  QStringLiteral("refused.h5"), QStringLiteral("--seeds"),
                                  QStringLiteral("demo/tasks/transfer_seeds.jsonl"), QStringLiteral("--out"),
                                  QStringLiteral("refused")};
        for (const char *flag : {"epochs", "batch-size", "micro-batch-size", "learning-rate", "warmup-ratio", "eval-limit"})
            QTest::newRow(qPrintable(QStringLiteral("extract --%1").arg(QLatin1String(flag))))
                << extract + QStringList{QStringLiteral("--") + QLatin1String(flag), QStringLiteral("2")}
                << QStringLiteral("Unknown option '%1'").arg(QLatin1String(flag));
        QTest::newRow("extract --metric") << extract + QStringList{QStringLiteral("--metric"), QStringLiteral("choice")}
                                          << QStringLiteral("Unknown option 'metric'");
    }

    void ignoredFlagsAreRefused()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const auto run = runCli(arguments, m_dir.path());
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(QString::fromUtf8(run.err).contains(expected), run.err.constData());
        QVERIFY(!QFile::exists(path(QStringLiteral("refused"))));
        QVERIFY(!QFile::exists(path(QStringLiteral("refused.h5"))));
    }

    // perplexity is no metric a transfer's runs are compared by: transfer and experiment
    // refuse it in the recipe check, before the sensitivity, the extraction or the
    // training, and leave no output behind.
    void perplexityIsRefusedBeforeAnyWork()
    {
        QFile recipe(path(QStringLiteral("perplexity.json")));
        QVERIFY(recipe.open(QIODevice::WriteOnly));
        recipe.write(R"({"transfer": {"teacher": "demo/teacher", "student": "demo/student",
                         "seeds": "demo/tasks/transfer_seeds.jsonl", "train": "demo/tasks/transfer_train.jsonl",
                         "eval": "demo/tasks/transfer_eval.jsonl", "eval_metric": "perplexity", "epochs": 1, "rank": 4},
                         "seeds": [1]})");
        recipe.close();
        const QList<QStringList> commands{
            {QStringLiteral("transfer"), QStringLiteral("--teacher"), QStringLiteral("demo/teacher"), QStringLiteral("--student"),
             QStringLiteral("demo/student"), QStringLiteral("--seeds"), QStringLiteral("demo/tasks/transfer_seeds.jsonl"),
             QStringLiteral("--train"), QStringLiteral("demo/tasks/transfer_train.jsonl"), QStringLiteral("--eval"),
             QStringLiteral("demo/tasks/transfer_eval.jsonl"), QStringLiteral("--metric"), QStringLiteral("perplexity"),
             QStringLiteral("--out"), QStringLiteral("perplexity-run")},
            {QStringLiteral("experiment"), QStringLiteral("--recipe"), QStringLiteral("perplexity.json"), QStringLiteral("--out"),
             QStringLiteral("perplexity-run")},
        };
        for (const auto &arguments : commands) {
            QElapsedTimer clock;
            clock.start();
            const auto run = runCli(arguments, m_dir.path());
            QCOMPARE(run.exitCode, 1);
            QVERIFY2(run.err.contains("'eval_metric': unknown evaluation metric of a transfer 'perplexity'"),
                     run.err.constData());
            QVERIFY2(!run.err.contains("sensitivity"), run.err.constData());
            QVERIFY(!QFile::exists(path(QStringLiteral("perplexity-run"))));
            // A start-up and a recipe check: far less than loading, scoring and training.
            QVERIFY2(clock.elapsed() < 20000, qPrintable(QString::number(clock.elapsed())));
        }
    }

    // The session of `transfer` has the layout Session.h documents, written by the
    // pipeline: the scores of every teacher tensor in its own shape (read from the
    // checkpoint), the selection, the reductions and one run record with the step,
    // loss and learning-rate columns and every attribute.
    void transferSessionHasTheDocumentedLayout()
    {
        const auto file = path(QStringLiteral("run/session.h5"));
        const auto layout = nugget::test::sessionLayout(file);
        QVERIFY2(!layout.isEmpty(), qPrintable(file));
        QStringList expected{QStringLiteral("/ attrs format,version,writer"), QStringLiteral("/inputs dataset string [1]"),
                             QStringLiteral("/recipe dataset string [1]"), QStringLiteral("/reduction group"),
                             QStringLiteral("/runs group"), QStringLiteral("/runs/transfer group"),
                             QStringLiteral("/runs/transfer/eval dataset string [1]"), QStringLiteral("/selection group"),
                             QStringLiteral("/selection/layers dataset int64 [2] attrs strategy"),
                             QStringLiteral("/sensitivity group"), QStringLiteral("/sensitivity/layers group"),
                             QStringLiteral("/sensitivity/layers/teacher dataset float64 [3, 9] attrs modules"),
                             QStringLiteral("/sensitivity/teacher group attrs compute_dtype,metric,samples")};
        const auto weights = nugget::TensorStore::openFolder(path(QStringLiteral("demo/teacher")).toStdString());
        for (const auto &name : weights.names()) {
            QStringList sizes;
            for (const auto d : weights.tensor(name).sizes())
                sizes << QString::number(d);
            expected << QStringLiteral("/sensitivity/teacher/%1 dataset float32 [%2]")
                            .arg(QString::fromStdString(name), sizes.join(QStringLiteral(", ")));
        }
        const auto session = nugget::Session::openReadOnly(file.toStdString());
        for (const auto &parameter : session.reductionParameters()) {
            const auto reduction = session.readReduction(parameter);
            const auto name = QString::fromStdString(parameter);
            expected << QStringLiteral("/reduction/%1 group attrs structure").arg(name)
                     << QStringLiteral("/reduction/%1/cols dataset int64 [%2]").arg(name).arg(reduction->cols.size())
                     << QStringLiteral("/reduction/%1/rows dataset int64 [%2]").arg(name).arg(reduction->rows.size());
        }
        QVERIFY(!session.reductionParameters().empty());
        const auto run = session.readRun("transfer");
        QVERIFY(run);
        QVERIFY(run->curve.size(0) > 0);
        expected << QStringLiteral("/runs/transfer/loss dataset float64 [%1, 3] attrs columns").arg(run->curve.size(0));
        // One evaluation record per item, and their numbers.
        const auto items = static_cast<qsizetype>(session.readRunItems("transfer").size());
        QVERIFY(items > 0);
        expected << QStringLiteral("/runs/transfer/item_scores dataset float64 [%1, 4] attrs columns").arg(items)
                 << QStringLiteral("/runs/transfer/items dataset string [%1]").arg(items);
        expected.sort();
        QCOMPARE(layout.mid(1), expected.mid(1));   // the root line stays first
        QCOMPARE(layout.first(), expected.first());

        QCOMPARE(run->columns, (std::vector<std::string>{"step", "loss", "learning_rate"}));
        QStringList keys = run->evaluation.keys();
        keys.sort();
        QCOMPARE(keys, (QStringList{QStringLiteral("condition"), QStringLiteral("correct"), QStringLiteral("init"),
                                    QStringLiteral("items"), QStringLiteral("metric"), QStringLiteral("score"),
                                    QStringLiteral("seconds"), QStringLiteral("seed"), QStringLiteral("teacher_layers")}));
        QCOMPARE(run->evaluation.value(QStringLiteral("init")).toString(), QStringLiteral("transfer"));
        QCOMPARE(run->evaluation.value(QStringLiteral("items")).toInt(), 4);
        std::vector<int64_t> layers;
        for (const auto &v : run->evaluation.value(QStringLiteral("teacher_layers")).toArray())
            layers.push_back(v.toInteger());
        QCOMPARE(layers, session.readSelection());
        // The learning rate column is the schedule's: warm-up then decay, never above the peak.
        const auto rates = run->curve.select(1, 2);
        QVERIFY(rates.max().item<double>() <= 3e-4 + 1e-9);
        QVERIFY(rates.min().item<double>() >= 0);
    }

    void aStudentLargerThanTheTeacherIsRefused()
    {
        const auto run = runCli({QStringLiteral("extract"), QStringLiteral("--teacher"), QStringLiteral("demo/student"),
                                 QStringLiteral("--student"), QStringLiteral("demo/teacher"), QStringLiteral("--session"),
                                 QStringLiteral("swapped.h5"), QStringLiteral("--seeds"),
                                 QStringLiteral("demo/tasks/transfer_seeds.jsonl"), QStringLiteral("--out"),
                                 QStringLiteral("swapped")},
                                m_dir.path());
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("must be the larger model"), run.err.constData());
        QVERIFY(!QFile::exists(path(QStringLiteral("swapped.h5"))));
        QVERIFY(!QFile::exists(path(QStringLiteral("swapped"))));
    }

    // A student whose float32 weights exceed half of the memory budget trains in
    // bfloat16 with float32 adapters (said on stderr; the adapter file holds float32
    // factors that training moved); --student-dtype float32 overrides the rule; a
    // student too large even in bfloat16 is refused, naming its folder, before anything
    // is written.
    void aStudentTooLargeForFloat32TrainsInBfloat16()
    {
        const double parameters =
            static_cast<double>(nugget::readFolderConfig(path(QStringLiteral("demo/student")).toStdString()).parameterCount());
        auto train = [&](const QString &out, double memory, const QStringList &extra = {}) {
            qputenv("NUGGET_MEMORY_BYTES", QByteArray::number(memory, 'f', 0));
            auto run = runCli(QStringList{QStringLiteral("train"), QStringLiteral("--student"), QStringLiteral("demo/student"),
                                          QStringLiteral("--init"), QStringLiteral("lora"), QStringLiteral("--train"),
                                          QStringLiteral("demo/tasks/transfer_train.jsonl"), QStringLiteral("--epochs"),
                                          QStringLiteral("1"), QStringLiteral("--rank"), QStringLiteral("4"),
                                          QStringLiteral("--out"), out, QStringLiteral("--merged"), out + QStringLiteral("-merged")} +
                                  extra,
                              m_dir.path());
            qunsetenv("NUGGET_MEMORY_BYTES");
            return run;
        };
        // float32 (4 bytes a parameter) > half of 6 bytes a parameter >= bfloat16 / 0.75.
        const auto run = train(QStringLiteral("bf16-trained"), 6 * parameters);
        QVERIFY2(run.exitCode == 0, run.err.constData());
        QVERIFY2(run.err.contains("student: bfloat16 weights with float32 adapters"), run.err.constData());
        const auto file = nugget::SafetensorsFile::open(path(QStringLiteral("bf16-trained/adapter_model.safetensors")).toStdString());
        QVERIFY(!file->tensors().empty());
        double movedB = 0;
        for (const auto &info : file->tensors()) {
            QVERIFY2(info.dtypeName == "F32", info.name.c_str());
            if (info.name.find("lora_B") != std::string::npos)   // plain LoRA starts with B = 0
                movedB = std::max(movedB, file->tensor(info.name).abs().max().item<double>());
        }
        QVERIFY(movedB > 0);
        // The merged student stays bfloat16 on disk (float32 would double its size).
        const auto merged =
            nugget::SafetensorsFile::open(path(QStringLiteral("bf16-trained-merged/model.safetensors")).toStdString());
        for (const auto &info : merged->tensors())
            QVERIFY2(info.dtypeName == "BF16", info.name.c_str());
        QVERIFY(nugget::loadModelFolder(path(QStringLiteral("bf16-trained-merged")).toStdString()).model);

        const auto forced = train(QStringLiteral("forced-float32"), 6 * parameters,
                                  {QStringLiteral("--student-dtype"), QStringLiteral("float32")});
        QVERIFY2(forced.exitCode == 0, forced.err.constData());
        QVERIFY2(!forced.err.contains("bfloat16"), forced.err.constData());

        const auto refused = train(QStringLiteral("too-large"), 2 * parameters);
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.contains("demo/student") && refused.err.contains("choose a smaller student"),
                 refused.err.constData());
        QVERIFY(!QFile::exists(path(QStringLiteral("too-large"))));
        QVERIFY(!QFile::exists(path(QStringLiteral("too-large-merged"))));
    }

    // --compute-dtype bfloat16 scores the teacher in bfloat16 (said on stderr and recorded
    // in the session) with layer totals close to float32's; an unknown dtype is refused
    // before any file is written.
    void sensitivityComputesInTheChosenDtype()
    {
        auto sensitivity = [&](const QString &out, const QString &dtype) {
            return runCli({QStringLiteral("sensitivity"), QStringLiteral("--model"), QStringLiteral("demo/teacher"),
                           QStringLiteral("--seeds"), QStringLiteral("demo/tasks/transfer_seeds.jsonl"),
                           QStringLiteral("--out"), out, QStringLiteral("--streamed"), QStringLiteral("--compute-dtype"),
                           dtype},
                          m_dir.path());
        };
        for (const auto &dtype : {QStringLiteral("float32"), QStringLiteral("bfloat16")}) {
            const auto run = sensitivity(dtype + QStringLiteral(".h5"), dtype);
            QVERIFY2(run.exitCode == 0, run.err.constData());
            QVERIFY2(run.err.contains("computing in " + dtype.toUtf8()), run.err.constData());
        }
        const auto exact = nugget::Session::openReadOnly(path(QStringLiteral("float32.h5")).toStdString());
        const auto rounded = nugget::Session::openReadOnly(path(QStringLiteral("bfloat16.h5")).toStdString());
        // The session says which compute its scores came from.
        QCOMPARE(exact.sensitivityInfo(nugget::Side::Teacher).computeDtype, std::string("float32"));
        QCOMPARE(rounded.sensitivityInfo(nugget::Side::Teacher).computeDtype, std::string("bfloat16"));
        const auto exactTotals = std::get<0>(exact.readLayerTotals(nugget::Side::Teacher)).sum(1);
        const auto roundedTotals = std::get<0>(rounded.readLayerTotals(nugget::Side::Teacher)).sum(1);
        QVERIFY(!torch::equal(exactTotals, roundedTotals));
        QVERIFY(torch::allclose(roundedTotals, exactTotals, 0.03, 0));

        const auto bad = sensitivity(QStringLiteral("bad-dtype.h5"), QStringLiteral("float8"));
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.err.contains("unknown compute dtype 'float8'"), bad.err.constData());
        QVERIFY(!QFile::exists(path(QStringLiteral("bad-dtype.h5"))));
    }

    // experiment keeps the teacher on disk (mapped, scored by the streamed sensitivity
    // into the session) and runs every condition; a second run reuses the session's
    // scores instead of scoring again.
    void experimentStreamsTheTeacherIntoItsSession()
    {
        QFile recipe(path(QStringLiteral("experiment.json")));
        QVERIFY(recipe.open(QIODevice::WriteOnly));
        recipe.write(R"({"transfer": {"teacher": "demo/teacher", "student": "demo/student",
                         "seeds": "demo/tasks/transfer_seeds.jsonl", "train": "demo/tasks/transfer_train.jsonl",
                         "eval": "demo/tasks/transfer_eval.jsonl", "eval_limit": 4, "epochs": 1, "rank": 4},
                         "seeds": [1],
                         "conditions": [{"name": "plain-lora", "init": "lora"}, {"name": "method", "init": "transfer"}]})");
        recipe.close();
        auto experiment = [&] {
            return runCli({QStringLiteral("experiment"), QStringLiteral("--recipe"), QStringLiteral("experiment.json"),
                           QStringLiteral("--out"), QStringLiteral("experiment")},
                          m_dir.path());
        };
        const auto first = experiment();
        QVERIFY2(first.exitCode == 0, first.err.constData());
        QVERIFY2(first.err.contains("/demo/tasks/transfer_seeds.jsonl (streamed, one layer at a time)"),
                 first.err.constData());
        QFile table(path(QStringLiteral("experiment/results.md")));
        QVERIFY(table.open(QIODevice::ReadOnly));
        const auto text = table.readAll();
        QVERIFY2(text.contains("plain-lora") && text.contains("method"), text.constData());
        // The charts, drawn by nugget-charts from the session's run records.
        for (const auto &chart : {QStringLiteral("experiment/scores.png"), QStringLiteral("experiment/loss.png")}) {
            const auto bytes = nugget::test::readAll(path(chart));
            QVERIFY2(bytes.startsWith("\x89PNG\r\n\x1a\n") && bytes.size() > 2000, qPrintable(chart));
        }

        const auto sessionPath = path(QStringLiteral("experiment/session.h5")).toStdString();
        at::Tensor scores;
        {
            const auto session = nugget::Session::openReadOnly(sessionPath);
            QVERIFY(session.hasSensitivity(nugget::Side::Teacher));
            QCOMPARE(std::get<0>(session.readLayerTotals(nugget::Side::Teacher)).size(0), int64_t(3));
            scores = session.readSensitivity(nugget::Side::Teacher, "model.layers.1.mlp.up_proj.weight");
            QVERIFY(scores.sum().item<double>() > 0);
        }
        {
            // Each run recorded as `transfer` records its one run: the same columns and attributes.
            const auto session = nugget::Session::openReadOnly(sessionPath);
            const auto transfer = nugget::Session::openReadOnly(path(QStringLiteral("run/session.h5")).toStdString());
            const auto reference = transfer.readRun("transfer");
            QVERIFY(reference);
            QCOMPARE(session.runNames(), (std::vector<std::string>{"plain-lora-seed1", "method-seed1"}));
            for (const auto &name : session.runNames()) {
                const auto run = session.readRun(name);
                QCOMPARE(run->columns, reference->columns);
                QCOMPARE(run->evaluation.keys(), reference->evaluation.keys());
                QCOMPARE(run->evaluation.value(QStringLiteral("condition")).toString(),
                         QString::fromStdString(name.substr(0, name.rfind("-seed"))));
            }
        }
        const auto second = experiment();
        QVERIFY2(second.exitCode == 0, second.err.constData());
        QVERIFY2(!second.err.contains("sensitivity: scoring the teacher"), second.err.constData());
        const auto session = nugget::Session::openReadOnly(sessionPath);
        QVERIFY(torch::equal(session.readSensitivity(nugget::Side::Teacher, "model.layers.1.mlp.up_proj.weight"), scores));
    }

    // One record per item, the same bytes whoever evaluates: nugget-cli eval --items, an
    // experiment's items file and session, and the workbench's saved session. The
    // experiment's tables pair each condition with the baselines on those records.
    void itemRecordsAreTheSameFromEveryProducer()
    {
        const auto eval = runCli({QStringLiteral("eval"), QStringLiteral("demo/student"), QStringLiteral("--data"),
                                  QStringLiteral("demo/tasks/transfer_eval.jsonl"), QStringLiteral("--limit"),
                                  QStringLiteral("12"), QStringLiteral("--max-new-tokens"), QStringLiteral("24"),
                                  QStringLiteral("--items"), QStringLiteral("items.jsonl")},
                                 m_dir.path());
        QVERIFY2(eval.exitCode == 0, eval.err.constData());
        const QByteArray cli = nugget::test::readAll(path(QStringLiteral("items.jsonl")));
        const auto lines = cli.trimmed().split('\n');
        QCOMPARE(lines.size(), 12);
        int ranked = 0;
        for (const auto &line : lines) {
            const auto record = QJsonDocument::fromJson(line).object();
            for (const char *key : {"id", "expected", "predicted", "correct", "answer_logprob", "answer_tokens",
                                    "person", "attribute"})
                QVERIFY2(record.contains(QLatin1String(key)), key);
            QVERIFY(record.value(QStringLiteral("answer_logprob")).toDouble() < 0);
            if (record.contains(QStringLiteral("rank"))) {
                ++ranked;
                const auto candidates = record.value(QStringLiteral("candidates")).toArray();
                QVERIFY(candidates.contains(record.value(QStringLiteral("expected"))));
                QCOMPARE(record.value(QStringLiteral("candidate_logprobs")).toArray().size(), candidates.size());
            }
        }
        QCOMPARE(ranked, 10);   // every question but the two birth dates

        // train --eval --items: the same items, of the trained student.
        const auto train = runCli({QStringLiteral("train"), QStringLiteral("--student"), QStringLiteral("demo/student"),
                                   QStringLiteral("--train"), QStringLiteral("demo/tasks/transfer_train.jsonl"),
                                   QStringLiteral("--eval"), QStringLiteral("demo/tasks/transfer_eval.jsonl"),
                                   QStringLiteral("--eval-limit"), QStringLiteral("12"), QStringLiteral("--epochs"),
                                   QStringLiteral("1"), QStringLiteral("--rank"), QStringLiteral("4"), QStringLiteral("--out"),
                                   QStringLiteral("trained-adapter"), QStringLiteral("--items"), QStringLiteral("trained.jsonl")},
                                  m_dir.path());
        QVERIFY2(train.exitCode == 0, train.err.constData());
        const auto trainedLines = nugget::test::readAll(path(QStringLiteral("trained.jsonl"))).trimmed().split('\n');
        QCOMPARE(trainedLines.size(), lines.size());
        for (qsizetype i = 0; i < lines.size(); ++i)
            QCOMPARE(QJsonDocument::fromJson(trainedLines[i]).object().value(QStringLiteral("id")),
                     QJsonDocument::fromJson(lines[i]).object().value(QStringLiteral("id")));

        QFile recipe(path(QStringLiteral("items-experiment.json")));
        QVERIFY(recipe.open(QIODevice::WriteOnly));
        recipe.write(R"({"transfer": {"teacher": "demo/teacher", "student": "demo/student",
                         "seeds": "demo/tasks/transfer_seeds.jsonl", "train": "demo/tasks/transfer_train.jsonl",
                         "eval": "demo/tasks/transfer_eval.jsonl", "eval_limit": 12, "max_new_tokens": 24,
                         "epochs": 1, "rank": 4},
                         "seeds": [1, 2],
                         "conditions": [{"name": "vanilla student", "init": "none"}, {"name": "plain LoRA", "init": "lora"}]})");
        recipe.close();
        const auto experiment = runCli({QStringLiteral("experiment"), QStringLiteral("--recipe"),
                                        QStringLiteral("items-experiment.json"), QStringLiteral("--out"),
                                        QStringLiteral("items-experiment")},
                                       m_dir.path());
        QVERIFY2(experiment.exitCode == 0, experiment.err.constData());
        QCOMPARE(nugget::test::readAll(path(QStringLiteral("items-experiment/items-vanilla-student-1.jsonl"))), cli);
        QCOMPARE(nugget::test::readAll(path(QStringLiteral("items-experiment/items-vanilla-student-2.jsonl"))), cli);
        QVERIFY(QFile::exists(path(QStringLiteral("items-experiment/items-plain-lora-2.jsonl"))));
        auto sessionItems = [](const QString &file, const std::string &run) {
            const auto session = nugget::Session::openReadOnly(file.toStdString());
            QByteArray text;
            for (const auto &record : session.readRunItems(run))
                text += QByteArray::fromStdString(record) + '\n';
            return text;
        };
        QCOMPARE(sessionItems(path(QStringLiteral("items-experiment/session.h5")), "vanilla student-seed1"), cli);

        // The paired statistics: plain LoRA against the vanilla student, in both tables.
        const QByteArray table = nugget::test::readAll(path(QStringLiteral("items-experiment/results.md")));
        QVERIFY2(table.contains("Paired with vanilla student on the same 12 items and 2 seeds"), table.constData());
        QVERIFY2(table.contains("McNemar p"), table.constData());
        const QByteArray comparisons = nugget::test::readAll(path(QStringLiteral("items-experiment/comparisons.csv")));
        QVERIFY2(comparisons.startsWith("condition,baseline,items,seeds,logprob_diff") &&
                     comparisons.contains("\nplain LoRA,vanilla student,12,2,"),
                 comparisons.constData());

        // The workbench: evaluate the student as loaded, save the session.
        nugget::WorkbenchEngine engine;
        nugget::test::JobOutcomes outcomes(engine);
        QCOMPARE(outcomes.wait(engine.loadPair(path(QStringLiteral("demo/teacher")), path(QStringLiteral("demo/student"))))
                     .state,
                 nugget::JobState::Done);
        QCOMPARE(outcomes.wait(engine.loadTask({path(QStringLiteral("demo/tasks/transfer_seeds.jsonl")),
                                                path(QStringLiteral("demo/tasks/transfer_train.jsonl")),
                                                path(QStringLiteral("demo/tasks/transfer_eval.jsonl")),
                                                QStringLiteral("exact-match")},
                                               64))
                     .state,
                 nugget::JobState::Done);
        nugget::TransferRecipe gui;
        gui.evalLimit = 12;
        gui.maxNewTokens = 24;
        QCOMPARE(outcomes.wait(engine.evaluateStudent(gui)).state, nugget::JobState::Done);
        QCOMPARE(outcomes.wait(engine.saveSession(path(QStringLiteral("gui.h5")), gui, {}, QString())).state,
                 nugget::JobState::Done);
        QCOMPARE(sessionItems(path(QStringLiteral("gui.h5")), "student as loaded"), cli);

        // The workbench's controls table pairs each condition with both baselines.
        nugget::ControlsSummary controls;
        QObject::connect(&engine, &nugget::WorkbenchEngine::controlsFinished, &engine,
                         [&controls](const nugget::ControlsSummary &summary) { controls = summary; });
        nugget::SensitivityRequest scores;
        scores.similarity = false;
        QCOMPARE(outcomes.wait(engine.computeSensitivity(scores)).state, nugget::JobState::Done);
        gui.training.epochs = 1;
        gui.lora.rank = 4;
        gui.lora.alpha = 4;
        QCOMPARE(outcomes.wait(engine.runControls(gui, {1}, true)).state, nugget::JobState::Done);
        QCOMPARE(controls.conditions.size(), 5);
        QVERIFY(controls.conditions[0].versusVanilla.isEmpty());   // the baseline itself
        for (const auto &condition : controls.conditions.mid(2)) {
            QVERIFY2(condition.versusLora.contains(QStringLiteral("McNemar p")), qPrintable(condition.versusLora));
            QVERIFY2(condition.versusVanilla.contains(QStringLiteral("Δ log p")), qPrintable(condition.versusVanilla));
        }
    }

    void aBadSeedFileLeavesNoSession()
    {
        QFile bad(path(QStringLiteral("bad.jsonl")));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}\n{not json\n");
        bad.close();
        const auto run = runCli({QStringLiteral("sensitivity"), QStringLiteral("--model"), QStringLiteral("demo/teacher"),
                                 QStringLiteral("--seeds"), QStringLiteral("bad.jsonl"), QStringLiteral("--out"),
                                 QStringLiteral("bad.h5")},
                                m_dir.path());
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains("bad.jsonl:2"), run.err.constData());
        QVERIFY(!QFile::exists(path(QStringLiteral("bad.h5"))));
    }
};

QTEST_GUILESS_MAIN(TestTransferCli)
#include "test_transfer_cli.moc"

