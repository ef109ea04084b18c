import VMScopeCore

/// Words of memory, each with what it points to (band, symbol, string) and
/// what it is on the stack (a saved return address or rbp, and whose).
struct TelescopeResult: CommandResult {
    struct Row {
        let address: UInt64
        let value: UInt64
        /// What the address holds: "return address of #2 recurse", "rsp"...
        let marks: [String]
        /// What the value points to: "[stack]", "libc.so.6 pause+0x13", "\"text\"".
        let pointsTo: String?
        let function: String?
        /// The layout model's band of the value, when it is an address.
        let band: String?
    }

    let rows: [Row]
    let requested: Int
    let firstBadAddress: UInt64?

    func text(_ style: Style) -> String {
        var lines = rows.map { row -> String in
            var line = "\(style.paint(hex(row.address, width: 12), .stack))  \(hex(row.value, width: 16))"
            if let what = row.pointsTo { line += "  -> " + what }
            if !row.marks.isEmpty { line += "  <- " + row.marks.joined(separator: ", ") }
            return line
        }
        if let bad = firstBadAddress { lines.append("\(hex(bad)) cannot be read: \(rows.count) of \(requested) words shown.") }
        return lines.joined(separator: "\n")
    }

    var json: JSON {
        var fields: [(String, JSON)] = [("words", .array(rows.map { row in
            .object([("address", .address(row.address)), ("value", .address(row.value)),
                     ("points_to", row.pointsTo.map(JSON.string) ?? .null),
                     ("function", row.function.map(JSON.string) ?? .null),
                     ("band", row.band.map(JSON.string) ?? .null),
                     ("marks", .array(row.marks.map(JSON.string)))])
        }))]
        if let bad = firstBadAddress { fields.append(("error_address", .address(bad))) }
        return .object(fields)
    }
}

struct TelescopeCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "telescope", aliases: ["tel"], group: .stack, usage: "telescope ADDRESS|$rsp [N]",
        summary: "Show N words (default 16) from ADDRESS, each annotated with what it points to (band, symbol, string) and marked when it is a saved return address or rbp of a frame.",
        example: "telescope $rsp 24", needsTarget: true, arguments: [.register])

    static let maximumWords = 4096

    static func run(_ typed: [String], in session: Session) throws -> CommandResult {
        let arguments = AddressExpression.joiningLeadingExpression(typed)  // `$rsp - 8`
        guard (1...2).contains(arguments.count) else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let context = try StackContext(session: session)
        let registers = try context.target.registers(tid: context.tid)
        let start = try AddressExpression.evaluate(arguments[0], registers: registers)
        var count = 16
        if arguments.count == 2 {
            guard let value = AddressExpression.parseNumber(arguments[1]), value >= 1, value <= UInt64(maximumWords) else {
                throw ShellError.badValue(arguments[1], expected: "a word count from 1 to \(maximumWords)")
            }
            count = Int(value)
        }
        let read = try context.target.read(start, count: count * 8)
        guard read.bytes.count >= 8 else { throw VMScopeError.unmapped(address: read.firstBadAddress ?? start) }

        // What the words of the stack are: from the libunwind walk.
        var marks: [UInt64: [String]] = [:]
        if let backtrace = try? context.backtrace() {
            for frame in backtrace.frames {
                let name = context.name(of: frame).text
                if let slot = frame.returnAddressSlot { marks[slot, default: []].append("return address of #\(frame.index) \(name)") }
                if let slot = backtrace.savedRBPSlot(of: frame.index) { marks[slot, default: []].append("saved rbp of #\(frame.index) \(name)") }
                if let cfa = frame.cfa { marks[cfa, default: []].append("CFA of #\(frame.index)") }
            }
        }
        marks[registers.rsp, default: []].insert("rsp", at: 0)
        marks[registers.rbp, default: []].insert("rbp", at: 0)

        let memory = MemoryWindow(target: context.target)
        // The layout model's bands; without it the annotations just lack the band name.
        let space = try? AddressSpace.capture(target: context.target, programBreak: nil, modules: session.modules, linkMap: false)
        var rows: [TelescopeResult.Row] = []
        for index in 0..<(read.bytes.count / 8) {
            var value: UInt64 = 0
            for byte in 0..<8 { value |= UInt64(read.bytes[index * 8 + byte]) << (8 * UInt64(byte)) }
            let address = start &+ UInt64(index * 8)
            let (pointsTo, function, band) = describe(value, context: context, space: space, memory: memory)
            rows.append(.init(address: address, value: value, marks: marks[address] ?? [], pointsTo: pointsTo,
                              function: function, band: band))
        }
        let complete = rows.count == count
        return TelescopeResult(rows: rows, requested: count,
                               firstBadAddress: complete ? nil : read.firstBadAddress ?? start &+ UInt64(rows.count * 8))
    }

    /// The model band a value points into (text, data, heap, mmap region,
    /// stack), the object that owns the mapping, its symbol, and the string
    /// it points at.
    static func describe(_ value: UInt64, context: StackContext, space: AddressSpace?,
                         memory: MemoryWindow) -> (String?, String?, String?) {
        guard let mapping = context.maps.mapping(containing: value) else { return (nil, nil, nil) }
        let location = space?.locate(value)
        let band = location?.band ?? "mapped"
        var text = band
        var function: String?
        if let symbol = context.symbolize(value), let name = symbol.function {
            function = name
            text += ": " + sanitized(name, limit: 80) + (symbol.offset == 0 ? "" : "+" + hex(symbol.offset))
        }
        let owner = location?.region?.owner ?? lastComponent(mapping.path)
        if !owner.isEmpty && owner != "[stack]" && owner != "[heap]" { text += " (" + sanitized(owner, limit: 60) + ")" }
        if !mapping.isExecutable, mapping.isReadable, let bytes = memory.bytes(at: value, count: 48) {
            let printable = bytes.prefix { $0 >= 0x20 && $0 < 0x7f }
            if printable.count >= 4 {
                let shown = String(decoding: printable, as: UTF8.self)
                text += " \"" + sanitized(shown, limit: 40) + (printable.count == bytes.count ? "...\"" : "\"")
            }
        }
        return (text, function, band)
    }

    static func lastComponent(_ path: String) -> String {
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
