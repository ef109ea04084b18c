extension ELFFile {
    /// The defined function and object symbols of the symbol tables of the
    /// given section types (.symtab, .dynsym). Section, file, TLS and
    /// undefined symbols are left out: they do not name an address.
    func readSymbols(types: [UInt32]) -> [ELFSymbol] {
        var result: [ELFSymbol] = []
        for table in sections where types.contains(table.type) {
            guard table.link < UInt32(sections.count), table.size >= ELFConstants.symbolSize else { continue }
            let strings = sections[Int(table.link)]
            let (stringsEnd, overflow) = strings.offset.addingReportingOverflow(strings.size)
            guard !overflow, let entries = bytes.slice(offset: table.offset, size: table.size) else { continue }
            let entrySize = max(table.entrySize, ELFConstants.symbolSize)
            let count = UInt64(entries.count) / entrySize
            result.reserveCapacity(result.count + Int(count))
            for i in 0..<count {
                let at = table.offset + i * entrySize
                guard let nameOffset = bytes.u32(at), let info = bytes.u8(at + 4),
                      let sectionIndex = bytes.u16(at + 6), let value = bytes.u64(at + 8),
                      let size = bytes.u64(at + 16) else { break }
                let kind = info & 0xf
                let binding = info >> 4
                // 0 NOTYPE, 1 OBJECT, 2 FUNC, 10 GNU_IFUNC; others do not name code or data.
                guard kind == 0 || kind == 1 || kind == 2 || kind == 10 else { continue }
                guard sectionIndex != 0, nameOffset != 0 else { continue }  // undefined or unnamed
                let nameAt = strings.offset + UInt64(nameOffset)
                guard nameAt < stringsEnd,
                      var name = bytes.cString(at: nameAt, end: stringsEnd, limit: SymbolTable.maxNameLength),
                      !name.isEmpty else { continue }
                // Debug files' .symtab spells versions into names ("memcpy@@GLIBC_2.14"); .dynsym does not.
                if let at = name.firstIndex(of: "@"), at != name.startIndex { name = String(name[..<at]) }
                // Local labels such as ".L123" and "$x" mapping symbols say nothing to a reader.
                if kind == 0 && (name.hasPrefix(".L") || name.hasPrefix("$")) { continue }
                result.append(ELFSymbol(name: name, value: value, size: size,
                                        isFunction: kind == 2 || kind == 10, isObject: kind == 1,
                                        isLocal: binding == 0))
            }
        }
        return result
    }
}
