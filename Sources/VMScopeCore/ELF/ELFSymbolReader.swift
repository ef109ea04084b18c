extension ELFFile {
    /// Adds the defined function and object symbols of the symbol tables of
    /// the given section types (.symtab, .dynsym) to `builder`. Section,
    /// file, TLS and undefined symbols are left out: they do not name an
    /// address. Names are not turned into Strings here: each string table
    /// is copied once into the builder and symbols point into it.
    func collectSymbols(types: [UInt32], into builder: inout SymbolTable.Builder) {
        // A real file has one .symtab and one .dynsym. A damaged one may
        // claim thousands of tables sharing one huge string table: copy each
        // string table once and read a handful of tables at most.
        var copied: [UInt32: Int] = [:]
        var tablesRead = 0
        for table in sections where types.contains(table.type) {
            guard tablesRead < 8, table.link < UInt32(sections.count), table.size >= ELFConstants.symbolSize else { continue }
            let strings = sections[Int(table.link)]
            guard let stringBytes = bytes.slice(offset: strings.offset, size: strings.size), stringBytes.count > 0,
                  let entries = bytes.slice(offset: table.offset, size: table.size) else { continue }
            tablesRead += 1
            let base = copied[table.link] ?? builder.addStrings(stringBytes)
            copied[table.link] = base
            let stringCount = stringBytes.count
            let entrySize = Int(min(max(table.entrySize, ELFConstants.symbolSize), 1 << 16))
            let count = entries.count / entrySize
            builder.reserve(count)
            for i in 0..<count {
                let at = i * entrySize
                let nameOffset = Int(entries.loadUnaligned(fromByteOffset: at, as: UInt32.self))
                let info = entries[at + 4]
                let sectionIndex = entries.loadUnaligned(fromByteOffset: at + 6, as: UInt16.self)
                let kind = info & 0xf
                // 0 NOTYPE, 1 OBJECT, 2 FUNC, 10 GNU_IFUNC; others do not name code or data.
                guard kind == 0 || kind == 1 || kind == 2 || kind == 10 else { continue }
                guard sectionIndex != 0, nameOffset != 0, nameOffset < stringCount else { continue }  // undefined or unnamed
                // The name ends at NUL, or at '@' (debug files' .symtab spells
                // versions into names: "memcpy@@GLIBC_2.14"; .dynsym does not).
                let limit = min(stringCount, nameOffset + SymbolTable.maxNameLength)
                var end = nameOffset
                while end < limit, case let byte = stringBytes[end], byte != 0, byte != UInt8(ascii: "@") || end == nameOffset { end += 1 }
                guard end > nameOffset else { continue }
                // Local labels such as ".L123" and "$x" mapping symbols say nothing to a reader.
                let first = stringBytes[nameOffset]
                if kind == 0 && (first == UInt8(ascii: "$")
                                 || (first == UInt8(ascii: ".") && end > nameOffset + 1 && stringBytes[nameOffset + 1] == UInt8(ascii: "L"))) { continue }
                builder.add(value: entries.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self),
                            size: entries.loadUnaligned(fromByteOffset: at + 16, as: UInt64.self),
                            nameStart: base + nameOffset, nameLength: end - nameOffset,
                            isFunction: kind == 2 || kind == 10, isObject: kind == 1, isLocal: info >> 4 == 0)
            }
        }
    }

    /// The symbols of the given tables as values (tests, tools).
    func readSymbols(types: [UInt32]) -> [ELFSymbol] {
        var builder = SymbolTable.Builder()
        collectSymbols(types: types, into: &builder)
        return builder.symbols
    }
}
