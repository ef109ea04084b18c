import Glibc

/// The one colour palette every command uses, after pwndbg's legend: code
/// red, data purple, heap blue, stack yellow, libraries... Colour only when
/// asked for (a terminal, no --no-color, no NO_COLOR).
public struct Style: Sendable {
    public enum Role: Sendable {
        case code, data, rodata, heap, stack, library, guardPage, address, heading, error, dim, changed
    }

    public let enabled: Bool
    /// With --symbolic: stable names for process and thread ids (see `id`).
    public var idNames: [Int32: String] = [:]

    public init(enabled: Bool) { self.enabled = enabled }

    public static let plain = Style(enabled: false)

    /// A process or thread id as shown: the number, or with --symbolic a
    /// name that repeats run to run (`PID`, `TID1`...). Use it for ids in
    /// table cells, whose widths must not depend on the number's digits.
    public func id(_ value: Int32) -> String { idNames[value] ?? String(value) }

    /// The colour decision for standard output.
    public static func forStandardOutput(noColorFlag: Bool) -> Style {
        let noColorEnv = getenv("NO_COLOR").map { String(cString: $0).isEmpty == false } ?? false
        return Style(enabled: !noColorFlag && !noColorEnv && isatty(STDOUT_FILENO) == 1)
    }

    private func code(_ role: Role) -> String {
        switch role {
        case .code: return "31"
        case .data: return "35"
        case .rodata: return "32"
        case .heap: return "34"
        case .stack: return "33"
        case .library: return "36"
        case .guardPage: return "90"
        case .address: return "36"
        case .heading: return "1"
        case .error: return "1;31"
        case .dim: return "2"
        case .changed: return "1;33"
        }
    }

    /// The palette itself, as pwndbg prints its legend: each kind of memory in its colour.
    public var legend: String {
        let roles: [(String, Role)] = [("code", .code), ("data", .data), ("rodata", .rodata), ("heap", .heap),
                                       ("stack", .stack), ("library", .library), ("guard", .guardPage)]
        return "Legend: " + roles.map { paint($0.0, $0.1) }.joined(separator: " | ")
    }

    public func paint(_ text: String, _ role: Role) -> String {
        enabled ? "\u{1B}[\(code(role))m\(text)\u{1B}[0m" : text
    }
}
