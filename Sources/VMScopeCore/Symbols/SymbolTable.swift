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

    /// Which of several symbols at one address to show: a typed symbol
    /// before a NOTYPE label, a global before a local.
    var preference: Int { ((isFunction || isObject) ? 2 : 0) + (isLocal ? 0 : 1) }
}

/// The symbols of one module sorted by address, for address -> name
/// (binary search) and name -> address (hash) lookups.
public struct SymbolTable: Sendable {
    static let maxNameLength = 4096

    /// Sorted by value, then by preference (best last among equals).
    private let sorted: [ELFSymbol]
    /// The highest end (value + size) of sorted[0...i]: a backwards scan
    /// can stop as soon as no earlier symbol reaches the address.
    private let maxEnd: [UInt64]
    /// name -> index, built on the first lookup by name (address lookups,
    /// the common case, never need it).
    private let nameIndex = NameIndex()

    public init(_ symbols: [ELFSymbol]) {
        // Sort small keys, not the symbols (each holds a String: moving one
        // costs reference counting); then gather in order.
        var keys: [(value: UInt64, index: Int32)] = []
        keys.reserveCapacity(symbols.count)
        for (index, symbol) in symbols.enumerated() where index < Int(Int32.max) {
            keys.append((symbol.value, Int32(index)))
        }
        keys.sort { a, b in
            if a.value != b.value { return a.value < b.value }
            let pa = symbols[Int(a.index)].preference, pb = symbols[Int(b.index)].preference
            return pa != pb ? pa < pb : a.index < b.index
        }
        var unique: [ELFSymbol] = []
        unique.reserveCapacity(keys.count)
        for key in keys { unique.append(symbols[Int(key.index)]) }
        // .symtab usually repeats .dynsym: drop a name seen already at the same value.
        var write = 0
        var runStart = 0
        for read in unique.indices {
            let symbol = unique[read]
            if write > 0 && unique[write - 1].value != symbol.value { runStart = write }
            var duplicate = false
            var i = runStart
            while i < write {
                if unique[i].name == symbol.name {
                    duplicate = true
                    if symbol.preference > unique[i].preference { unique[i] = symbol }
                    break
                }
                i += 1
            }
            if duplicate { continue }
            unique[write] = symbol
            write += 1
        }
        unique.removeSubrange(write...)
        var ends: [UInt64] = []
        ends.reserveCapacity(unique.count)
        var highest: UInt64 = 0
        for symbol in unique {
            let end = symbol.value.addingReportingOverflow(symbol.size)
            highest = max(highest, end.overflow ? UInt64.max : end.partialValue)
            ends.append(highest)
        }
        sorted = unique
        maxEnd = ends
    }

    /// Lazily built name index. The core is single-threaded (one tracer
    /// thread), so the unsynchronised lazy build is safe.
    private final class NameIndex: @unchecked Sendable {
        var byName: [String: Int]?

        func index(_ symbols: [ELFSymbol]) -> [String: Int] {
            if let byName { return byName }
            var names: [String: Int] = [:]
            names.reserveCapacity(symbols.count)
            for (index, symbol) in symbols.enumerated() {
                if let old = names[symbol.name], symbols[old].preference >= symbol.preference { continue }
                names[symbol.name] = index
            }
            byName = names
            return names
        }
    }

    public var count: Int { sorted.count }
    public var names: [String] { sorted.map(\.name) }
    public var all: [ELFSymbol] { sorted }

    /// The symbol covering `address` (a link-time address) and the offset
    /// into it. Symbols of size 0 only match their exact address. When
    /// symbols nest, the one starting closest below wins; among symbols at
    /// the same address, FUNC/OBJECT before NOTYPE, global before local.
    public func symbol(containing address: UInt64) -> (symbol: ELFSymbol, offset: UInt64)? {
        // First index whose value is > address.
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid].value <= address { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        var best: ELFSymbol?
        while index >= 0 {
            let candidate = sorted[index]
            if let found = best, candidate.value < found.value { break }
            if maxEnd[index] <= address && candidate.value != address { break }
            let covers = candidate.value == address
                || (candidate.size > 0 && address - candidate.value < candidate.size)
            if covers, best.map({ candidate.preference > $0.preference }) ?? true { best = candidate }
            index -= 1
        }
        guard let best else { return nil }
        return (best, address - best.value)
    }

    public func symbol(named name: String) -> ELFSymbol? {
        nameIndex.index(sorted)[name].map { sorted[$0] }
    }
}
