#pragma once
// A whole synthetic world for the built-in demo models, generated from a recipe and
// written as a folder of text and JSONL files.
//
// Two disjoint populations: the teacher's people and the student's people. Each side
// pretrains on the biographies of all its people plus the QA of a fraction of them
// ("QA people"); the QA of the others ("bio-only" people) measures whether knowledge
// read in biographies can be extracted. The teacher's QA people are split once more
// into transfer_train (task data for the student's LoRA / transfer) and transfer_eval
// (people the teacher knows, the student never saw, and transfer_train never mentions).
// A separate arithmetic task gives a skill to transfer besides facts.
//
// Everything is drawn from WorldRng streams keyed by the recipe's seed, so a recipe
// always produces byte-identical files.

#include "zoo/BiographyWorld.h"

#include <QJsonObject>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nugget::zoo {

struct WorldRecipe
{
    uint64_t seed = 1;                   // at most 2^53 (stored as a JSON number)
    int teacherPeople = 1000;
    int studentPeople = 1000;
    int heldoutPeople = 50;              // biographies only, in no split (perplexity)
    int biographiesPerPerson = 5;        // different augmented biographies per person
    double teacherQaFraction = 0.5;      // teacher people whose QA is in pretraining
    double studentQaFraction = 0.5;      // student people whose QA is in pretraining
    double transferTrainFraction = 0.6;  // of the teacher's QA people -> transfer_train
    int seedSamples = 32;                // transfer_seeds and arith_seeds
    int arithmeticTeacherCount = 2000;
    int arithmeticStudentCount = 2000;
    int arithmeticTransferCount = 1000;  // arith_transfer_train (disjoint from arith_eval)
    int arithmeticEvalCount = 200;
    int arithmeticMinSteps = 1;
    int arithmeticDifficulty = 3;        // most steps; each problem has minSteps..this

    // Keys in snake_case ("teacher_people", "transfer_train_fraction", ...). Missing keys
    // keep their defaults; unknown keys, wrong types and out-of-range values throw Error
    // naming `source` and the key.
    static WorldRecipe fromJson(const QJsonObject &json,
                                const std::string &source = "world recipe");
    QJsonObject toJson() const;
    // Throws Error naming `source` and the setting for impossible recipes (negative
    // counts, fractions outside [0, 1], more seed samples than transfer examples, ...).
    void validate(const std::string &source = "world recipe") const;
};

// File names inside a world folder.
namespace worldfile {
inline constexpr const char *TeacherPeople = "teacher_people.jsonl";
inline constexpr const char *StudentPeople = "student_people.jsonl";
inline constexpr const char *TeacherPretrainBios = "teacher_pretrain_bios.txt";
inline constexpr const char *StudentPretrainBios = "student_pretrain_bios.txt";
inline constexpr const char *TeacherPretrainQa = "teacher_pretrain_qa.jsonl";
inline constexpr const char *StudentPretrainQa = "student_pretrain_qa.jsonl";
inline constexpr const char *TeacherBioOnlyQa = "teacher_bio_only_qa.jsonl";
inline constexpr const char *StudentBioOnlyQa = "student_bio_only_qa.jsonl";
inline constexpr const char *TransferTrain = "transfer_train.jsonl";
inline constexpr const char *TransferEval = "transfer_eval.jsonl";
inline constexpr const char *TransferSeeds = "transfer_seeds.jsonl";
inline constexpr const char *ArithTeacherTrain = "arith_teacher_train.jsonl";
inline constexpr const char *ArithStudentTrain = "arith_student_train.jsonl";
inline constexpr const char *ArithTransferTrain = "arith_transfer_train.jsonl";
inline constexpr const char *ArithEval = "arith_eval.jsonl";
inline constexpr const char *ArithSeeds = "arith_seeds.jsonl";
inline constexpr const char *HeldoutBios = "heldout_bios.txt";
inline constexpr const char *TokenizerCorpus = "tokenizer_corpus.txt";
inline constexpr const char *Candidates = "candidates.json";   // eval/CandidateSets.h
inline constexpr const char *WorldJson = "world.json";
} // namespace worldfile

// Values of WorldPerson::split.
namespace worldsplit {
inline constexpr const char *TransferTrain = "transfer_train";   // teacher QA people
inline constexpr const char *TransferEval = "transfer_eval";     // teacher QA people
inline constexpr const char *PretrainQa = "pretrain_qa";         // student QA people
inline constexpr const char *BioOnly = "bio_only";               // either side
inline constexpr const char *Heldout = "heldout";
} // namespace worldsplit

struct WorldPerson
{
    Person person;
    bool qaInPretraining = false;
    std::string split;   // one of worldsplit::*
};

struct WorldFile
{
    std::string name;      // one of worldfile::*
    std::string content;   // UTF-8; every line (record) ends with '\n'
    int64_t records = 0;   // lines (.txt, .jsonl)
};

struct World
{
    WorldRecipe recipe;
    std::vector<WorldPerson> teacher;   // person.index 0 .. teacherPeople-1
    std::vector<WorldPerson> student;   // following indices
    std::vector<WorldPerson> heldout;   // following indices
    std::vector<WorldFile> files;       // in writing order, world.json last

    // Throws Error for a name not in `files`.
    const WorldFile &file(const std::string &name) const;
};

// Generates every file in memory. Validates the recipe first.
World generateWorld(const WorldRecipe &recipe);

struct WorldSummary
{
    std::string folder;
    std::vector<std::pair<std::string, int64_t>> records;   // per file, writing order
};

// generateWorld, then writes each file atomically (io/AtomicFile.h) into outputDir, creating
// it if needed. Throws Error naming the file on failure.
WorldSummary writeWorld(const WorldRecipe &recipe, const std::string &outputDir);

// One line of teacher_people.jsonl / student_people.jsonl.
std::string personJsonLine(const WorldPerson &person);
// Reads a people file back; throws Error "FILE:LINE: ..." for malformed lines.
std::vector<WorldPerson> readPeopleJsonl(const std::string &path);

} // namespace nugget::zoo
