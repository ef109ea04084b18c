// Small pure helpers of the benchmark: medians, /proc stat parsing and
// output parsing. Kept free of process handling so they are easy to check.

/// The median of `values` (the mean of the middle two for an even count);
/// nil for none.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    if sorted.count % 2 == 1 { return sorted[middle] }
    return (sorted[middle - 1] + sorted[middle]) / 2
}

/// The state letter of a /proc/PID/stat line (the field after the command
/// name, which is in parentheses and may itself hold ")" or spaces).
func threadState(fromStat line: Substring) -> Character? {
    guard let close = line.lastIndex(of: ")") else { return nil }
    return line[line.index(after: close)...].drop { $0 == " " }.first
}

/// Frames a backtrace printed: lines starting with "#" and a digit (gdb,
/// eu-stack and vmscope all number frames that way).
func frameLineCount(_ output: Substring) -> Int {
    var count = 0
    for line in output.split(separator: "\n", omittingEmptySubsequences: true) {
        let trimmed = line.drop { $0 == " " }
        if trimmed.first == "#", let next = trimmed.dropFirst().first, next.isNumber { count += 1 }
    }
    return count
}

/// "12.3 ms"-style text of a duration in seconds, three significant digits.
func formatDuration(_ seconds: Double?) -> String {
    guard let seconds else { return "-" }
    if seconds >= 1 { return formatNumber(seconds) + " s" }
    if seconds >= 1e-3 { return formatNumber(seconds * 1e3) + " ms" }
    return formatNumber(seconds * 1e6) + " us"
}

/// Three significant digits, thousands grouped ("1,109", "2.40", "0.550").
func formatNumber(_ value: Double) -> String {
    let magnitude = abs(value)
    let decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
    var scaled = (magnitude * pow10(decimals)).rounded()
    var digits = ""
    if decimals > 0 {
        for _ in 0..<decimals {
            digits = String(Int(scaled.truncatingRemainder(dividingBy: 10))) + digits
            scaled = (scaled / 10).rounded(.down)
        }
        digits = "." + digits
    }
    var whole = Int(scaled)
    var grouped = ""
    repeat {
        let part = whole % 1000
        whole /= 1000
        grouped = (whole > 0 ? "," + String(repeating: "0", count: 3 - String(part).count) + String(part) : String(part)) + grouped
    } while whole > 0
    return (value < 0 ? "-" : "") + grouped + digits
}

private func pow10(_ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<n { result *= 10 }
    return result
}

/// "0.42x" (what vmscope took relative to another tool).
func formatRatio(_ ratio: Double?) -> String {
    guard let ratio, ratio.isFinite else { return "-" }
    return formatNumber(ratio) + "x"
}
