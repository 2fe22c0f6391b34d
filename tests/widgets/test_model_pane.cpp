// A model slot of the workbench: it shows the architecture and the tensor tree of an
// opened folder, and a bad folder leaves the previous model in place.

#include "ModelFolderFixtures.h"

#include "ResultConversion.h"
#include "io/ModelFolderInfo.h"
#include "models/ModelStructureModel.h"
#include "panes/ModelPane.h"

#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTreeView>

using namespace nugget;

class TestModelPane : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { ModelPane::setFolderReader(readModelFolderSummary); }   // as the window does

    void showsArchitectureAndTensorTree()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/config.json");
        ModelPane pane(QStringLiteral("Teacher"));
        QSignalSpy changed(&pane, &ModelPane::modelChanged);
        QCOMPARE(pane.openFolder(nugget::test::sharedPath(QStringLiteral("models/stories260K"))), QString());
        QCOMPARE(changed.count(), 1);
        QString text;
        for (const auto *label : pane.findChildren<QLabel *>())
            text += label->text() + u'\n';
        QVERIFY2(text.contains(QStringLiteral("5 layers")) && text.contains(QStringLiteral("hidden 64")) &&
                     text.contains(QStringLiteral("260,032")),
                 qPrintable(text));

        auto *tree = pane.findChild<QTreeView *>();
        QVERIFY(tree);
        const auto *model = tree->model();
        // model > layers > 0 .. 4, in numeric order.
        QModelIndex layers;
        for (int row = 0; row < model->rowCount(); ++row) {
            const auto top = model->index(row, 0);
            if (top.data().toString() == QLatin1String("model"))
                for (int child = 0; child < model->rowCount(top); ++child)
                    if (model->index(child, 0, top).data().toString() == QLatin1String("layers"))
                        layers = model->index(child, 0, top);
        }
        QVERIFY(layers.isValid());
        QCOMPARE(model->rowCount(layers), 5);
        QCOMPARE(model->index(4, 0, layers).data().toString(), QStringLiteral("4"));
        QCOMPARE(model->index(0, ModelStructureModel::ParametersColumn, layers).data(Qt::UserRole).toLongLong(),
                 qint64(2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 172 + 2 * 64));   // q, o + k, v + mlp + norms
    }

    void badFolderKeepsThePreviousModel()
    {
        NUGGET_REQUIRE_SHARED("models/stories260K/config.json");
        ModelPane pane(QStringLiteral("Student"));
        pane.openFolder(nugget::test::sharedPath(QStringLiteral("models/stories260K")));
        QTemporaryDir empty;
        QSignalSpy failed(&pane, &ModelPane::openFailed);
        const QString error = pane.openFolder(empty.path());
        QVERIFY2(error.contains(QStringLiteral("config.json")), qPrintable(error));
        QCOMPARE(failed.count(), 1);
        QVERIFY(pane.modelInfo());
        QCOMPARE(pane.modelInfo()->config.hiddenSize, int64_t(64));
    }

    // A folder that loading would refuse is not opened: the pane lists its problems, the
    // same ones `nugget-cli info` prints, and keeps the previous model.
    void showsTheProblemsOfABrokenFolder_data()
    {
        QTest::addColumn<int>("index");
        const auto cases = nugget::test::brokenFolders();
        for (int i = 0; i < static_cast<int>(cases.size()); ++i)
            if (cases[static_cast<size_t>(i)].headersShow)
                QTest::newRow(qPrintable(cases[static_cast<size_t>(i)].name)) << i;
    }

    void showsTheProblemsOfABrokenFolder()
    {
        QFETCH(int, index);
        const auto broken = nugget::test::brokenFolders().at(static_cast<size_t>(index));
        QTemporaryDir sound, dir;
        QVERIFY(nugget::test::copyDemoStudent(sound.path()));
        QVERIFY(nugget::test::copyDemoStudent(dir.path()));
        broken.breakIt(dir.path());

        ModelPane pane(QStringLiteral("Student"));
        QCOMPARE(pane.openFolder(sound.path()), QString());
        auto *problems = pane.findChild<QLabel *>(QStringLiteral("problems"));
        QVERIFY(problems);
        QVERIFY(problems->isHidden());

        QSignalSpy failed(&pane, &ModelPane::openFailed);
        const QString error = pane.openFolder(dir.path());
        QCOMPARE(failed.count(), 1);
        QVERIFY(!problems->isHidden());
        for (const auto &word : broken.expected) {
            QVERIFY2(error.contains(word), qPrintable(error));
            QVERIFY2(problems->text().contains(word), qPrintable(problems->text()));
        }
        const auto listed = ModelFolderInfo::read(dir.path().toStdString()).problems;
        QCOMPARE(pane.problems().size(), qsizetype(listed.size()));
        QVERIFY(pane.modelInfo());
        QCOMPARE(QString::fromStdString(pane.modelInfo()->folder), QDir(sound.path()).absolutePath());

        // Opening a sound folder again clears the list.
        QCOMPARE(pane.openFolder(sound.path()), QString());
        QVERIFY(problems->isHidden());
        QVERIFY(pane.problems().isEmpty());
    }
};

QTEST_MAIN(TestModelPane)
#include "test_model_pane.moc"
