import VMScopeCore

/// A short teaching text; `facts` are the live numbers it quotes (for JSON).
struct ExplainResult: CommandResult {
    let topic: String
    let title: String
    let paragraphs: [String]
    let facts: [(String, JSON)]

    func text(_ style: Style) -> String {
        ([style.paint(title, .heading)] + paragraphs.map { wrap(style.namingIDs($0), width: 78) }).joined(separator: "\n")
    }

    var json: JSON {
        .object([("topic", .string(topic)), ("title", .string(title)),
                 ("text", .string(paragraphs.joined(separator: "\n"))), ("facts", .object(facts))])
    }
}

/// `explain` alone: the topics and what each teaches.
struct ExplainTopicsResult: CommandResult {
    func text(_ style: Style) -> String {
        ([style.paint("Topics of 'explain TOPIC'", .heading)]
            + [table(ExplainTopics.all.map { ["  " + $0.name, $0.title] })]).joined(separator: "\n")
    }

    var json: JSON {
        .object([("topics", .array(ExplainTopics.all.map {
            .object([("name", .string($0.name)), ("title", .string($0.title))])
        }))])
    }
}

/// Breaks a paragraph into lines of at most `width` columns, at spaces.
func wrap(_ paragraph: String, width: Int) -> String {
    var lines: [String] = []
    var line = ""
    // A size's unit stays with its number ("132 KiB" is one word here).
    var words: [String] = []
    for word in paragraph.split(separator: " ") {
        let bare = word.trimmingCharacters(in: ",.;:)")
        if ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"].contains(bare), let last = words.last, last.last?.isNumber == true {
            words[words.count - 1] = last + " " + word
        } else {
            words.append(String(word))
        }
    }
    for word in words {
        if !line.isEmpty && line.count + 1 + word.count > width {
            lines.append(line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(line) }
    return lines.joined(separator: "\n")
}

struct ExplainCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "explain", group: .shell, usage: "explain [TOPIC]",
        summary: "A short lesson on TOPIC with the live process's own numbers: "
            + ExplainTopics.all.map(\.name).joined(separator: ", ") + ".",
        example: "explain stack",
        arguments: [.keyword(ExplainTopics.all.flatMap { [$0.name] + $0.aliases })])

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        let asked = arguments.joined(separator: " ").lowercased()
        if asked.isEmpty { return ExplainTopicsResult() }
        let key = asked.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "-", with: "")
        guard let topic = ExplainTopics.all.first(where: { $0.name == key || $0.aliases.contains(key) }) else {
            throw ShellError.unknownTopic(asked, topics: ExplainTopics.all.map(\.name))
        }
        var lesson = Lesson(facts: ExplainFacts(session: session))
        topic.write(&lesson)
        if !lesson.facts.attached {
            lesson.say("Attach a process ('attach PID' or 'run PROGRAM') to see its own numbers here.")
        }
        return ExplainResult(topic: topic.name, title: topic.title, paragraphs: lesson.paragraphs,
                             facts: lesson.quoted)
    }
}

/// A text being written: paragraphs plus the numbers quoted in them.
struct Lesson {
    let facts: ExplainFacts
    var paragraphs: [String] = []
    var quoted: [(String, JSON)] = []

    init(facts: ExplainFacts) { self.facts = facts }

    mutating func say(_ text: String) { paragraphs.append(text) }

    /// Records an address for JSON and returns it as text.
    mutating func address(_ name: String, _ value: UInt64) -> String {
        quoted.append((name, .address(value)))
        return hex(value)
    }

    mutating func number(_ name: String, _ value: Int) -> String {
        quoted.append((name, .int(Int64(value))))
        return String(value)
    }

    mutating func size(_ name: String, _ value: UInt64) -> String {
        quoted.append((name, .int(Int64(bitPattern: value))))
        return humanSize(value)
    }
}

struct ExplainTopic: Sendable {
    let name: String
    let aliases: [String]
    let title: String
    let write: @Sendable (inout Lesson) -> Void
}

extension Substring {
    /// The text without any of `characters` at its end.
    func trimmingCharacters(in characters: String) -> String {
        var text = self
        while let last = text.last, characters.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
