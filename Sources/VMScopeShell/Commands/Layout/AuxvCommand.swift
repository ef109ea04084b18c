import VMScopeCore

struct AuxvResult: CommandResult {
    struct Row {
        let entry: AuxiliaryVector.Entry
        /// A string it points at, or AT_RANDOM's bytes in hex.
        let decoded: String?
    }
    let rows: [Row]
    let namer: AddressNamer

    static let addressTypes: Set<UInt64> = [3, 7, 9, 15, 24, 25, 31, 33]

    func value(_ entry: AuxiliaryVector.Entry) -> String {
        if Self.addressTypes.contains(entry.type) && entry.value != 0 { return namer.name(entry.value) }
        if entry.type == 16 || entry.type == 26 { return hex(entry.value) }
        return String(entry.value)
    }

    func text(_ style: Style) -> String {
        var table_ = [["NAME", "VALUE", "MEANING"]]
        for row in rows {
            var meaning = AuxiliaryVector.meaning(of: row.entry.type)
            if let decoded = row.decoded { meaning += meaning.isEmpty ? decoded : ": " + decoded }
            table_.append([row.entry.name, style.paint(value(row.entry), .address), sanitized(meaning)])
        }
        return table(table_)
    }

    var json: JSON {
        .object([("auxv", .array(rows.map { row in
            .object([("type", .int(Int64(bitPattern: row.entry.type))), ("name", .string(row.entry.name)),
                     ("value", .address(row.entry.value)),
                     ("meaning", .string(AuxiliaryVector.meaning(of: row.entry.type))),
                     ("decoded", row.decoded.map(JSON.string) ?? .null)])
        }))])
    }
}

struct AuxvCommand: ShellCommand {
    static let spec = CommandSpec(
        name: "auxv", aliases: ["info auxv"], group: .layout, usage: "auxv",
        summary: "The auxiliary vector the kernel passed at exec (/proc/PID/auxv), decoded: AT_ENTRY, AT_BASE, AT_PHDR, AT_RANDOM, AT_SYSINFO_EHDR, AT_PAGESZ, AT_HWCAP, AT_EXECFN...",
        example: "auxv", needsTarget: true)

    static func run(_ arguments: [String], in session: Session) throws -> CommandResult {
        guard arguments.isEmpty else { throw ShellError.usage(command: spec.name, usage: spec.usage) }
        let target = try session.requireTarget()
        let auxv = try AuxiliaryVector.read(pid: target.pid)
        let rows = auxv.entries.map { entry -> AuxvResult.Row in
            if AuxiliaryVector.stringValued.contains(entry.type) {
                return .init(entry: entry, decoded: "\"" + readCString(target, entry.value, limit: 512) + "\"")
            }
            if entry.type == AuxiliaryVector.AT.random, !session.settings.symbolic, let bytes = try? target.read(entry.value, count: 16), bytes.isComplete {
                return .init(entry: entry, decoded: bytes.bytes.map { String(hex(UInt64($0), width: 2).dropFirst(2)) }.joined())
            }
            return .init(entry: entry, decoded: nil)
        }
        return AuxvResult(rows: rows, namer: try AddressNamer.forSession(session))
    }
}
