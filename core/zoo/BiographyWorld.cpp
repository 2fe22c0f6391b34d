#include "zoo/BiographyWorld.h"

#include "Error.h"
#include "zoo/WorldNames.h"

#include <algorithm>
#include <cstdlib>

namespace nugget::zoo {

namespace {

// "{N}" is the full name, "{V}" the value. The first template of each attribute is the
// plainest statement; every one names the person in full, states the value verbatim and
// ends with a period.
const std::vector<std::string> &sentenceTemplates(Attribute attribute)
{
    static const std::vector<std::string> birthDate = {
        "{N} was born on {V}.",
        "{N} celebrates the birthday on {V}.",
        "{N} came into the world on {V}.",
        "The birth date of {N} is {V}.",
        "{N} entered life on {V}.",
    };
    static const std::vector<std::string> birthCity = {
        "{N} was born in {V}.",
        "{N} spent early years in {V}.",
        "{N} grew up in {V}.",
        "The birthplace of {N} is {V}.",
        "{N} is a native of {V}.",
    };
    static const std::vector<std::string> university = {
        "{N} graduated from {V}.",
        "{N} attended {V}.",
        "{N} received a degree from {V}.",
        "{N} completed higher education at {V}.",
        "{N} was a student at {V}.",
    };
    static const std::vector<std::string> major = {
        "{N} studied {V}.",
        "{N} majored in {V}.",
        "{N} chose the field of {V}.",
        "{N} earned a degree in {V}.",
        "{N} focused on {V} in college.",
    };
    static const std::vector<std::string> employer = {
        "{N} works for {V}.",
        "{N} is employed by {V}.",
        "{N} holds a job at {V}.",
        "{N} has a position at {V}.",
        "{N} is on the staff of {V}.",
    };
    static const std::vector<std::string> employerCity = {
        "{N} works in {V}.",
        "{N} commutes to an office in {V}.",
        "{N} has a workplace in {V}.",
        "The office of {N} is located in {V}.",
        "{N} does professional work in {V}.",
    };
    switch (attribute) {
    case Attribute::BirthDate: return birthDate;
    case Attribute::BirthCity: return birthCity;
    case Attribute::University: return university;
    case Attribute::Major: return major;
    case Attribute::Employer: return employer;
    case Attribute::EmployerCity: return employerCity;
    }
    throw Error("biography world: unknown attribute");
}

std::string fill(const std::string &pattern, const std::string &name, const std::string &value)
{
    std::string out;
    out.reserve(pattern.size() + name.size() + value.size());
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '{' && i + 2 < pattern.size() && pattern[i + 2] == '}') {
            if (pattern[i + 1] == 'N') {
                out += name;
                i += 2;
                continue;
            }
            if (pattern[i + 1] == 'V') {
                out += value;
                i += 2;
                continue;
            }
        }
        out += pattern[i];
    }
    return out;
}

} // namespace

std::string attributeKey(Attribute attribute)
{
    switch (attribute) {
    case Attribute::BirthDate: return "birth_date";
    case Attribute::BirthCity: return "birth_city";
    case Attribute::University: return "university";
    case Attribute::Major: return "major";
    case Attribute::Employer: return "employer";
    case Attribute::EmployerCity: return "employer_city";
    }
    throw Error("biography world: unknown attribute");
}

Attribute attributeFromKey(const std::string &key)
{
    for (const Attribute attribute : kAttributes)
        if (attributeKey(attribute) == key)
            return attribute;
    throw Error("biography world: unknown attribute '" + key +
                "' (expected birth_date, birth_city, university, major, employer or "
                "employer_city)");
}

std::string BirthDate::text() const
{
    return monthNames().at(static_cast<size_t>(month - 1)) + ' ' + std::to_string(day) + ", " +
           std::to_string(year);
}

BirthDate BirthDate::parse(const std::string &text, const std::string &source)
{
    const auto bad = [&]() -> Error {
        return Error(source + ": '" + text + "' is not a birth date like 'October 2, 1996'");
    };
    const size_t space = text.find(' ');
    const size_t comma = text.find(", ");
    if (space == std::string::npos || comma == std::string::npos || comma < space)
        throw bad();
    const std::vector<std::string> &months = monthNames();
    const auto month = std::find(months.begin(), months.end(), text.substr(0, space));
    if (month == months.end())
        throw bad();
    const std::string dayText = text.substr(space + 1, comma - space - 1);
    const std::string yearText = text.substr(comma + 2);
    const auto digitsOnly = [](const std::string &s) {
        return !s.empty() && s.size() <= 4 &&
               std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (!digitsOnly(dayText) || !digitsOnly(yearText))
        throw bad();
    BirthDate date;
    date.month = static_cast<int>(month - months.begin()) + 1;
    date.day = std::atoi(dayText.c_str());
    date.year = std::atoi(yearText.c_str());
    if (date.day < 1 || date.day > daysInMonth(date.year, date.month) || date.text() != text)
        throw bad();
    return date;
}

std::string Person::fullName() const { return firstName + ' ' + middleName + ' ' + lastName; }

std::string Person::value(Attribute attribute) const
{
    switch (attribute) {
    case Attribute::BirthDate: return birthDate.text();
    case Attribute::BirthCity: return birthCity;
    case Attribute::University: return university;
    case Attribute::Major: return major;
    case Attribute::Employer: return employer;
    case Attribute::EmployerCity: return employerCity;
    }
    throw Error("biography world: unknown attribute");
}

Person randomPerson(WorldRng &rng)
{
    Person person;
    person.firstName = rng.pick(firstNames());
    person.middleName = rng.pick(middleNames());
    person.lastName = rng.pick(lastNames());
    person.birthDate.year = static_cast<int>(rng.between(kFirstBirthYear, kLastBirthYear));
    person.birthDate.month = static_cast<int>(rng.between(1, 12));
    person.birthDate.day = static_cast<int>(
        rng.between(1, daysInMonth(person.birthDate.year, person.birthDate.month)));
    person.birthCity = rng.pick(cities());
    person.university = rng.pick(universities());
    person.major = rng.pick(majors());
    person.employer = rng.pick(employers());
    person.employerCity = rng.pick(cities());
    return person;
}

std::vector<Person> generatePeople(int count, int firstIndex, WorldRng &rng,
                                   std::unordered_set<std::string> &usedNames)
{
    if (count < 0)
        throw Error("biography world: negative number of people (" + std::to_string(count) + ")");
    std::vector<Person> people;
    people.reserve(static_cast<size_t>(count));
    // Even a world of millions of people finds a free name in a few draws; running out
    // of attempts means the name space is (nearly) exhausted.
    int64_t attemptsLeft = int64_t(count) * 64 + 1024;
    while (static_cast<int>(people.size()) < count) {
        if (attemptsLeft-- <= 0)
            throw Error("biography world: could not find " + std::to_string(count) +
                        " unique full names (" + std::to_string(usedNames.size()) +
                        " names in use); ask for fewer people");
        Person person = randomPerson(rng);
        if (!usedNames.insert(person.fullName()).second)
            continue;
        person.index = firstIndex + static_cast<int>(people.size());
        people.push_back(std::move(person));
    }
    return people;
}

int sentenceTemplateCount(Attribute attribute)
{
    return static_cast<int>(sentenceTemplates(attribute).size());
}

std::string renderSentence(const Person &person, Attribute attribute, int templateIndex)
{
    const std::vector<std::string> &templates = sentenceTemplates(attribute);
    if (templateIndex < 0 || templateIndex >= static_cast<int>(templates.size()))
        throw Error("biography world: no sentence template " + std::to_string(templateIndex) +
                    " for attribute " + attributeKey(attribute));
    return fill(templates[static_cast<size_t>(templateIndex)], person.fullName(),
                person.value(attribute));
}

Biography renderBiography(const Person &person, WorldRng &rng)
{
    Biography bio;
    std::vector<Attribute> order(kAttributes.begin(), kAttributes.end());
    rng.shuffle(order);
    for (size_t i = 0; i < order.size(); ++i) {
        bio.order[i] = order[i];
        bio.templates[i] = static_cast<int>(rng.below(
            static_cast<uint64_t>(sentenceTemplateCount(order[i]))));
        if (i > 0)
            bio.text += ' ';
        bio.text += renderSentence(person, order[i], bio.templates[i]);
    }
    return bio;
}

std::vector<Biography> renderBiographies(const Person &person, int count, WorldRng &rng)
{
    if (count < 0)
        throw Error("biography world: negative number of biographies (" +
                    std::to_string(count) + ")");
    std::vector<Biography> bios;
    bios.reserve(static_cast<size_t>(count));
    std::unordered_set<std::string> seen;
    int64_t attemptsLeft = int64_t(count) * 32 + 256;
    while (static_cast<int>(bios.size()) < count) {
        if (attemptsLeft-- <= 0)
            throw Error("biography world: cannot render " + std::to_string(count) +
                        " different biographies of one person; ask for fewer");
        Biography bio = renderBiography(person, rng);
        if (seen.insert(bio.text).second)
            bios.push_back(std::move(bio));
    }
    return bios;
}

std::vector<std::string> biographies(const Person &person, int count, WorldRng &rng)
{
    std::vector<std::string> texts;
    for (Biography &bio : renderBiographies(person, count, rng))
        texts.push_back(std::move(bio.text));
    return texts;
}

std::string questionText(const Person &person, Attribute attribute)
{
    const std::string name = person.fullName();
    switch (attribute) {
    case Attribute::BirthDate: return "What is the birth date of " + name + "?";
    case Attribute::BirthCity: return "What is the birth city of " + name + "?";
    case Attribute::University: return "Which university did " + name + " attend?";
    case Attribute::Major: return "What did " + name + " study?";
    case Attribute::Employer: return "Which company does " + name + " work for?";
    case Attribute::EmployerCity: return "Where does " + name + " work?";
    }
    throw Error("biography world: unknown attribute");
}

std::string qaAnswer(const Person &person, Attribute attribute)
{
    return person.value(attribute) + '.';
}

std::vector<std::string> candidateAnswers(Attribute attribute)
{
    const std::vector<std::string> *values = nullptr;
    switch (attribute) {
    case Attribute::BirthDate: return {};
    case Attribute::BirthCity:
    case Attribute::EmployerCity: values = &cities(); break;
    case Attribute::University: values = &universities(); break;
    case Attribute::Major: values = &majors(); break;
    case Attribute::Employer: values = &employers(); break;
    }
    std::vector<std::string> answers;
    for (const std::string &value : *values)
        answers.push_back(value + '.');
    return answers;
}

ChatItem qaExample(const Person &person, Attribute attribute)
{
    ChatItem item;
    item.dataset = kBioQaDataset;
    item.id = std::string(kBioQaDataset) + '_' + std::to_string(person.index) + '_' +
              attributeKey(attribute);
    item.user = std::string(kBioQaInstruction) + "\n\nQuestion: " + questionText(person, attribute);
    item.assistant = qaAnswer(person, attribute);
    item.fields = {{"person", person.fullName()}, {"attribute", attributeKey(attribute)}};
    return item;
}

std::vector<ChatItem> qaExamples(const Person &person)
{
    std::vector<ChatItem> items;
    items.reserve(kAttributes.size());
    for (const Attribute attribute : kAttributes)
        items.push_back(qaExample(person, attribute));
    return items;
}

} // namespace nugget::zoo
