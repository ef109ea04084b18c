import VMScopeCore

/// Parses what users type for an address or a value: hex (`0x7ffe...`),
/// decimal, register names (`$rsp`), joined by `+` and `-`
/// (`$rsp+0x10`, `$rbp - 8`). Values are 64-bit; going below zero or past
/// 2^64 is an error, not a silent wrap.
public enum AddressExpression {
    public static func evaluate(_ text: String, registers: Registers?) throws -> UInt64 {
        var terms: [(negative: Bool, text: Substring)] = []
        var current = Substring("")
        var negative = false
        for ch in text {
            if ch == " " || ch == "\t" { continue }
            if ch == "+" || ch == "-" {
                if current.isEmpty {
                    // A sign before the first term, or two operators in a row.
                    guard terms.isEmpty, !negative, ch == "-" else {
                        throw ShellError.badExpression(text, reason: "an operator needs a value on each side")
                    }
                    negative = true
                    continue
                }
                terms.append((negative, current))
                current = ""
                negative = ch == "-"
            } else {
                current.append(ch)
            }
        }
        guard !current.isEmpty else { throw ShellError.badExpression(text, reason: "it ends without a value") }
        terms.append((negative, current))
        var total: UInt64 = 0
        for (index, term) in terms.enumerated() {
            let value = try termValue(term.text, whole: text, registers: registers)
            if term.negative {
                if index == 0 { throw ShellError.badExpression(text, reason: "addresses cannot be negative") }
                let (result, overflow) = total.subtractingReportingOverflow(value)
                if overflow { throw ShellError.badExpression(text, reason: "the result is below zero") }
                total = result
            } else {
                let (result, overflow) = total.addingReportingOverflow(value)
                if overflow { throw ShellError.badExpression(text, reason: "the result does not fit in 64 bits") }
                total = result
            }
        }
        return total
    }

    /// Joins an expression typed with spaces (`x $rsp - 8 16`, as in GDB)
    /// into the first argument: a word that is an operator, starts with one
    /// or follows one belongs to the expression. The words after it stay.
    public static func joiningLeadingExpression(_ arguments: [String]) -> [String] {
        guard var expression = arguments.first else { return arguments }
        var index = 1
        func isOperator(_ c: Character?) -> Bool { c == "+" || c == "-" }
        while index < arguments.count,
              isOperator(expression.last) || isOperator(arguments[index].first) {
            expression += arguments[index]
            index += 1
        }
        return [expression] + arguments[index...]
    }

    static func termValue(_ term: Substring, whole: String, registers: Registers?) throws -> UInt64 {
        if term.hasPrefix("$") {
            let name = String(term.dropFirst())
            guard Registers.field(named: name) != nil else { throw VMScopeError.unknownRegister(name: name) }
            guard let registers else { throw VMScopeError.notAttached }
            return try registers.value(named: name)
        }
        if let value = parseNumber(term) { return value }
        throw ShellError.badNumber(String(term))
    }

    /// `0x` hex, `0o` octal, `0b` binary or decimal; `_` may separate digits.
    public static func parseNumber<S: StringProtocol>(_ text: S) -> UInt64? {
        let lower = text.lowercased().replacingOccurrences(of: "_", with: "")
        if lower.hasPrefix("0x") { return UInt64(lower.dropFirst(2), radix: 16) }
        if lower.hasPrefix("0o") { return UInt64(lower.dropFirst(2), radix: 8) }
        if lower.hasPrefix("0b") { return UInt64(lower.dropFirst(2), radix: 2) }
        return UInt64(lower, radix: 10)
    }
}

extension String {
    /// Foundation-free replacement of every occurrence of a string.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
