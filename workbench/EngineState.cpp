#include "EngineState.h"

#include "Error.h"

namespace nugget {

ModelPair &EngineState::requirePair()
{
    if (!pair)
        throw Error("no model pair is loaded: open a teacher and a student first");
    return *pair;
}

void EngineState::requireTask() const
{
    if (seedSamples.empty())
        throw Error("no task is loaded: choose the seed, training and evaluation files first");
}

void EngineState::clearScores()
{
    teacherScores.reset();
    teacherOnDisk.reset();
    studentScores.reset();
    similarity.reset();
}

void EngineState::requireTeacherScores() const
{
    if (!teacherScores && !teacherOnDisk)
        throw Error("the teacher has no sensitivity scores yet: compute them (or open a session) first");
}

at::Tensor EngineState::teacherScore(const std::string &parameter) const
{
    requireTeacherScores();
    return teacherOnDisk ? teacherOnDisk->session->readSensitivity(Side::Teacher, parameter)
                         : teacherScores->at(parameter);
}

TeacherSource EngineState::teacherSource()
{
    requireTeacherScores();
    return teacherOnDisk ? teacherFromSession(pair->teacher.folder, *teacherOnDisk->session,
                                              pair->teacher.config.numHiddenLayers)
                         : teacherInMemory(pair->teacher, *teacherScores);
}

} // namespace nugget
