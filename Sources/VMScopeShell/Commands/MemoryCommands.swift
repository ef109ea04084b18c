import Glibc
import VMScopeCore

struct ExamineResult: CommandResult {
    let read: MemoryRead
    let requested: Int

    func text(_ style: Style) -> String {
        let dump = HexDumpText.lines(address: read.address, bytes: read.bytes, style: style)
        guard let bad = read.firstBadAddress else { return dump }  // no copy of a large dump
        let why = read.errno == 0 ? "" : " (\(errorName(read.errno)))"
        let sentence = "Read \(read.bytes.count) of \(requested) bytes: \(hex(bad)) cannot be read\(why)."
        return dump.isEmpty ? sentence : dump + "\n" + sentence
    }

    var json: JSON {
        var fields: [(String, JSON)] = [
            ("address", .address(read.address)), ("length", .int(Int64(read.bytes.count))),
            ("requested", .int(Int64(requested))),
            ("bytes", .string(HexDumpText.digitString(read.bytes))),
        ]
        if let bad = read.firstBadAddress { fields.append(("error_address", .address(bad))) }
        return .object(fields)
    }
}

struct ExamineCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "x", aliases: ["examine"], group: .inspect, usage: "x ADDRESS [COUNT]",
        summary: "Hexdump COUNT bytes (default 64) with ASCII; a read that meets an unmapped page shows what exists and names the first bad address.",
        example: "x $rsp 32", needsTarget: true, arguments: [.register])

    static let maximumCount = 1 << 30

    static func run(_ typed: [String], in session: Session) throws -> CommandResult {
        let arguments = AddressExpression.joiningLeadingExpression(typed)  // `$rsp - 8`
        guard (1...2).contains(arguments.count) else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let regs = try target.registers(tid: try session.currentThread())
        let address = try AddressExpression.evaluate(arguments[0], registers: regs)
        var count = 64
        if arguments.count == 2 {
            guard let value = AddressExpression.parseNumber(arguments[1]) else { throw ShellError.badNumber(arguments[1]) }
            guard value <= UInt64(maximumCount) else {
                throw ShellError.badValue(arguments[1], expected: "a count of at most \(maximumCount) bytes")
            }
            count = Int(value)
        }
        let read = try target.read(address, count: count)
        if read.bytes.isEmpty && count > 0 { throw VMScopeError.unmapped(address: address) }
        return ExamineResult(read: read, requested: count)
    }
}
