// The benchmark's results: one row per measured job, printed as tables of
// medians and ratios and written as JSON.

/// A JSON value written without Foundation, keys in the order given.
indirect enum BenchJSON {
    case number(Double?)
    case int(Int)
    case string(String)
    case bool(Bool?)
    case array([BenchJSON])
    case object([(String, BenchJSON)])

    func rendered(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .number(let value):
            guard let value, value.isFinite else { return "null" }
            return String(value)
        case .int(let value): return String(value)
        case .bool(let value): return value.map { $0 ? "true" : "false" } ?? "null"
        case .string(let text): return quoted(text)
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { inner + quoted($0.0) + ": " + $0.1.rendered(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        }
    }

    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// What one tool measured for one job.
struct ToolTiming {
    let tool: String
    var times: [Double] = []
    var stopped: [Double] = []
    var resolution: [Double] = []
    var frames: Int?
    var failures = 0
    var note: String?

    var median: Double? { VMScopeBench.medianOf(times) }
    var stoppedMedian: Double? { VMScopeBench.medianOf(stopped) }

    var json: BenchJSON {
        .object([("tool", .string(tool)), ("median_seconds", .number(median)), ("runs", .int(times.count)),
                 ("stopped_median_seconds", .number(stoppedMedian)), ("stopped_runs", .int(stopped.count)),
                 ("sample_interval_seconds", .number(VMScopeBench.medianOf(resolution))),
                 ("frames", frames.map(BenchJSON.int) ?? .number(nil)), ("failures", .int(failures)),
                 ("note", note.map(BenchJSON.string) ?? .number(nil))])
    }
}

/// A line of the summary: a value, what it is compared with, the ratio,
/// the goal and whether it is met.
struct Comparison {
    let job: String
    let value: String
    let reference: String
    let ratio: Double?
    let goal: String
    let met: Bool?
    var numbers: [(String, BenchJSON)] = []

    var json: BenchJSON {
        .object([("job", .string(job)), ("value", .string(value)), ("reference", .string(reference)),
                 ("ratio", .number(ratio)), ("goal", .string(goal)), ("met", .bool(met))] + numbers)
    }
}

/// A plain Markdown table (it reads in a terminal and pastes into the README).
func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { i, cell in
            cell + String(repeating: " ", count: max(0, (i < widths.count ? widths[i] : 0) - cell.count))
        }.joined(separator: " | ") + " |"
    }
    return ([line(header), "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"]
            + rows.map(line)).joined(separator: "\n")
}

func verdict(_ met: Bool?) -> String {
    guard let met else { return "-" }
    return met ? "met" : "missed"
}
