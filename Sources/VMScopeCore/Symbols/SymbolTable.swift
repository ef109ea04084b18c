/// A function or data symbol of an ELF file, at its link-time address.
public struct ELFSymbol: Sendable, Equatable {
    public let name: String
    public let value: UInt64
    public let size: UInt64
    public let isFunction: Bool
    public let isObject: Bool
    public let isLocal: Bool

    public init(name: String, value: UInt64, size: UInt64, isFunction: Bool, isObject: Bool, isLocal: Bool) {
        self.name = name; self.value = value; self.size = size
        self.isFunction = isFunction; self.isObject = isObject; self.isLocal = isLocal
    }
}

/// The symbols of one module sorted by address, for address -> name
/// (binary search) and name -> address (hash, built on first use) lookups.
///
/// Built for speed: libc with its debug file has ~8,000 symbols and a
/// backtrace needs three of them. Entries are small plain values pointing
/// into one byte buffer of names; a String is made only for a symbol that
/// is asked for.
public struct SymbolTable: Sendable {
    static let maxNameLength = 4096

    struct Entry {
        var value: UInt64
        var size: UInt64
        var nameStart: UInt32
        var nameLength: UInt16
        /// bit 0 function, bit 1 object, bit 2 local.
        var flags: UInt8

        var isFunction: Bool { flags & 1 != 0 }
        var isObject: Bool { flags & 2 != 0 }
        var isLocal: Bool { flags & 4 != 0 }
        /// Which of several symbols at one address to show: a typed symbol
        /// before a NOTYPE label, a global before a local.
        var preference: Int { ((isFunction || isObject) ? 2 : 0) + (isLocal ? 0 : 1) }
    }

    /// Collects entries and their names before sorting.
    struct Builder {
        var entries: [Entry] = []
        var names: [UInt8] = []

        /// Copies a string table; returns where it starts in `names`.
        mutating func addStrings(_ bytes: UnsafeRawBufferPointer) -> Int {
            let start = names.count
            names.append(contentsOf: bytes)
            return start
        }

        mutating func reserve(_ count: Int) { entries.reserveCapacity(entries.count + count) }

        mutating func add(value: UInt64, size: UInt64, nameStart: Int, nameLength: Int,
                          isFunction: Bool, isObject: Bool, isLocal: Bool) {
            guard nameStart <= Int(UInt32.max), nameLength <= Int(UInt16.max) else { return }
            entries.append(Entry(value: value, size: size, nameStart: UInt32(nameStart), nameLength: UInt16(nameLength),
                                 flags: (isFunction ? 1 : 0) | (isObject ? 2 : 0) | (isLocal ? 4 : 0)))
        }

        mutating func add(_ symbol: ELFSymbol) {
            let start = names.count
            let bytes = symbol.name.utf8.prefix(SymbolTable.maxNameLength)
            names.append(contentsOf: bytes)
            add(value: symbol.value, size: symbol.size, nameStart: start, nameLength: bytes.count,
                isFunction: symbol.isFunction, isObject: symbol.isObject, isLocal: symbol.isLocal)
        }

        /// The collected symbols, unsorted, as values.
        var symbols: [ELFSymbol] { entries.map { SymbolTable.symbol($0, names) } }

        func build() -> SymbolTable { SymbolTable(sorting: entries, names: names) }
    }

    /// Sorted by value, then by preference (best last among equals).
    let entries: [Entry]
    let nameBytes: [UInt8]
    /// The highest end (value + size) of entries[0...i]: a backwards scan
    /// can stop as soon as no earlier symbol reaches the address.
    private let maxEnd: [UInt64]
    private let nameIndex = NameIndex()

    public init(_ symbols: [ELFSymbol]) {
        var builder = Builder()
        for symbol in symbols { builder.add(symbol) }
        self.init(sorting: builder.entries, names: builder.names)
    }

    fileprivate init(sorting input: [Entry], names: [UInt8]) {
        var sorted = Self.sortedByValue(input)
        // .symtab usually repeats .dynsym: drop a name seen already at the
        // same value (keeping the better-typed entry).
        var write = 0
        var runStart = 0
        names.withUnsafeBufferPointer { text in
            func sameName(_ a: Entry, _ b: Entry) -> Bool {
                guard a.nameLength == b.nameLength else { return false }
                if a.nameStart == b.nameStart { return true }
                let x = Int(a.nameStart), y = Int(b.nameStart)
                for k in 0..<Int(a.nameLength) where text[x + k] != text[y + k] { return false }
                return true
            }
            for read in sorted.indices {
                let entry = sorted[read]
                if write > 0 && sorted[write - 1].value != entry.value { runStart = write }
                var duplicate = false
                // Only the last 64 of a run: a damaged table with thousands of
                // symbols at one address must not cost quadratic time.
                var i = max(runStart, write - 64)
                while i < write {
                    if sameName(sorted[i], entry) {
                        duplicate = true
                        if entry.preference > sorted[i].preference { sorted[i] = entry }
                        break
                    }
                    i += 1
                }
                if duplicate { continue }
                sorted[write] = entry
                write += 1
            }
        }
        sorted.removeSubrange(write...)
        self.init(sorted: sorted, names: names)
    }

    /// Entries already sorted and deduplicated (a table read back from the
    /// on-disk cache, checked by SymbolTableCache).
    init(sorted: [Entry], names: [UInt8]) {
        var ends: [UInt64] = []
        ends.reserveCapacity(sorted.count)
        var highest: UInt64 = 0
        for entry in sorted {
            let end = entry.value.addingReportingOverflow(entry.size)
            highest = max(highest, end.overflow ? UInt64.max : end.partialValue)
            ends.append(highest)
        }
        self.entries = sorted
        self.nameBytes = names
        self.maxEnd = ends
    }

    /// By value, then preference. Sorting entries (24 bytes, compared by a
    /// closure) took about a millisecond for libc's and ld.so's symbols;
    /// UInt64 keys (value, preference, index packed) radix-sorted take a
    /// fraction of that (the index keeps equal symbols in input order).
    /// Tables whose values or size do not fit the packing take the slow path.
    private static func sortedByValue(_ input: [Entry]) -> [Entry] {
        let indexBits: UInt64 = 22, preferenceBits: UInt64 = 2
        let valueLimit = UInt64(1) << (64 - indexBits - preferenceBits)
        guard input.count < 1 << Int(indexBits), !input.contains(where: { $0.value >= valueLimit }) else {
            return input.sorted { $0.value != $1.value ? $0.value < $1.value : $0.preference < $1.preference }
        }
        var keys = [UInt64]()
        keys.reserveCapacity(input.count)
        for (index, entry) in input.enumerated() {
            keys.append(entry.value << (indexBits + preferenceBits) | UInt64(entry.preference) << indexBits | UInt64(index))
        }
        radixSort(&keys)
        let mask = (UInt64(1) << indexBits) - 1
        return keys.map { input[Int($0 & mask)] }
    }

    /// LSD radix sort, one byte a pass; passes where every key has the same
    /// byte (the high bytes of link-time addresses) are skipped.
    static func radixSort(_ keys: inout [UInt64]) {
        guard keys.count > 64 else { keys.sort(); return }
        var other = [UInt64](repeating: 0, count: keys.count)
        var counts = [Int](repeating: 0, count: 256)
        for shift in stride(from: UInt64(0), to: 64, by: 8) {
            for i in 0..<256 { counts[i] = 0 }
            for key in keys { counts[Int((key >> shift) & 0xff)] += 1 }
            if counts.contains(keys.count) { continue }
            var total = 0
            for i in 0..<256 {
                let c = counts[i]
                counts[i] = total
                total += c
            }
            for key in keys {
                let digit = Int((key >> shift) & 0xff)
                other[counts[digit]] = key
                counts[digit] += 1
            }
            swap(&keys, &other)
        }
    }

    static func symbol(_ entry: Entry, _ names: [UInt8]) -> ELFSymbol {
        let start = Int(entry.nameStart)
        let end = min(names.count, start + Int(entry.nameLength))
        let name = start < end ? String(decoding: names[start..<end], as: UTF8.self) : ""
        return ELFSymbol(name: name, value: entry.value, size: entry.size,
                         isFunction: entry.isFunction, isObject: entry.isObject, isLocal: entry.isLocal)
    }

    public var count: Int { entries.count }
    public var names: [String] { entries.map { Self.symbol($0, nameBytes).name } }
    public var all: [ELFSymbol] { entries.map { Self.symbol($0, nameBytes) } }

    /// The symbol covering `address` (a link-time address) and the offset
    /// into it. Symbols of size 0 only match their exact address. When
    /// symbols nest, the one starting closest below wins; among symbols at
    /// the same address, FUNC/OBJECT before NOTYPE, global before local.
    public func symbol(containing address: UInt64) -> (symbol: ELFSymbol, offset: UInt64)? {
        // First index whose value is > address.
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].value <= address { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        var best: Entry?
        // Bounded: a damaged table (thousands of symbols at one address, or
        // one huge symbol under everything) must not make lookups linear.
        let stop = max(-1, index - 4096)
        while index > stop {
            let candidate = entries[index]
            if let found = best, candidate.value < found.value { break }
            if maxEnd[index] <= address && candidate.value != address { break }
            let covers = candidate.value == address
                || (candidate.size > 0 && address - candidate.value < candidate.size)
            if covers, best.map({ candidate.preference > $0.preference }) ?? true { best = candidate }
            index -= 1
        }
        guard let best else { return nil }
        return (Self.symbol(best, nameBytes), address - best.value)
    }

    public func symbol(named name: String) -> ELFSymbol? {
        nameIndex.index(entries, nameBytes)[name].map { Self.symbol(entries[$0], nameBytes) }
    }

    /// name -> index, built on the first lookup by name (address lookups,
    /// the common case, never need it). The core is single-threaded (one
    /// tracer thread), so the unsynchronised lazy build is safe.
    private final class NameIndex: @unchecked Sendable {
        var byName: [String: Int]?

        func index(_ entries: [Entry], _ names: [UInt8]) -> [String: Int] {
            if let byName { return byName }
            var map: [String: Int] = [:]
            map.reserveCapacity(entries.count)
            for (index, entry) in entries.enumerated() {
                let name = SymbolTable.symbol(entry, names).name
                if let old = map[name], entries[old].preference >= entry.preference { continue }
                map[name] = index
            }
            byName = map
            return map
        }
    }
}
