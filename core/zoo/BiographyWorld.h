#pragma once
// The synthetic biography world: invented people with six attributes, rendered as
// augmented biographies (several sentence templates per attribute, sentences in random
// order) and as question/answer pairs. The text never uses pronouns: every sentence
// names the person in full.

#include "zoo/ZooCommon.h"

#include <array>
#include <string>
#include <unordered_set>
#include <vector>

namespace nugget::zoo {

enum class Attribute { BirthDate, BirthCity, University, Major, Employer, EmployerCity };

inline constexpr int kAttributeCount = 6;
inline constexpr std::array<Attribute, kAttributeCount> kAttributes = {
    Attribute::BirthDate, Attribute::BirthCity, Attribute::University,
    Attribute::Major,     Attribute::Employer,  Attribute::EmployerCity};

// "birth_date", "birth_city", "university", "major", "employer", "employer_city".
std::string attributeKey(Attribute attribute);
// Inverse of attributeKey; throws Error for an unknown key.
Attribute attributeFromKey(const std::string &key);

struct BirthDate
{
    int year = 1900;
    int month = 1;   // 1-12
    int day = 1;

    std::string text() const;   // "October 2, 1996"
    // Parses text(); throws Error naming `source` for anything else.
    static BirthDate parse(const std::string &text, const std::string &source);
    bool operator==(const BirthDate &other) const
    {
        return year == other.year && month == other.month && day == other.day;
    }
};

struct Person
{
    int index = 0;   // position in its world; part of the ids of its QA examples
    std::string firstName;
    std::string middleName;
    std::string lastName;
    BirthDate birthDate;
    std::string birthCity;
    std::string university;
    std::string major;
    std::string employer;
    std::string employerCity;

    std::string fullName() const;   // "First Middle Last"
    std::string value(Attribute attribute) const;
};

// A person with every value drawn uniformly from the lists of WorldNames.h (the birth
// date: year, then month, then a day valid in that month). The name may be taken.
Person randomPerson(WorldRng &rng);

// `count` people whose full names are not in `usedNames` nor shared among them; their
// names are added to `usedNames`. Indices run from firstIndex. A person whose name is
// taken is drawn again entirely. Throws Error when the names run out.
std::vector<Person> generatePeople(int count, int firstIndex, WorldRng &rng,
                                   std::unordered_set<std::string> &usedNames);

// ---- Biographies ------------------------------------------------------------------

int sentenceTemplateCount(Attribute attribute);   // >= 4 for every attribute
// One sentence stating one attribute, e.g. "Anya Briar Forger was born on October 2, 1996."
std::string renderSentence(const Person &person, Attribute attribute, int templateIndex);

struct Biography
{
    std::string text;                              // the sentences joined by single spaces
    std::array<Attribute, kAttributeCount> order{}; // attribute of each sentence, in order
    std::array<int, kAttributeCount> templates{};   // template index of each sentence
};

// Six sentences, one per attribute, each with a random template, in a random order.
Biography renderBiography(const Person &person, WorldRng &rng);
// `count` biographies with pairwise different texts. Throws Error when count exceeds
// what the templates can produce in a reasonable number of draws.
std::vector<Biography> renderBiographies(const Person &person, int count, WorldRng &rng);
// Texts of renderBiographies.
std::vector<std::string> biographies(const Person &person, int count, WorldRng &rng);

// ---- Questions --------------------------------------------------------------------

// Instruction line opening every question's user message.
inline constexpr const char *kBioQaInstruction = "Answer the question about the person.";
inline constexpr const char *kBioQaDataset = "bioqa";

// "What is the birth city of Anya Briar Forger?"
std::string questionText(const Person &person, Attribute attribute);
// The value followed by a period: "Princeton, NJ."
std::string qaAnswer(const Person &person, Attribute attribute);
// User "Answer the question about the person.\n\nQuestion: <question>", assistant
// qaAnswer, id "bioqa_<index>_<attribute key>", fields "person" (full name) and
// "attribute" (its key).
ChatItem qaExample(const Person &person, Attribute attribute);
// Every answer a question about `attribute` can have, as qaAnswer writes it (each
// value followed by a period); empty for the birth date, whose ~40 000 possible values
// are too many to score as alternatives.
std::vector<std::string> candidateAnswers(Attribute attribute);

// The six examples of a person, in kAttributes order.
std::vector<ChatItem> qaExamples(const Person &person);

} // namespace nugget::zoo
