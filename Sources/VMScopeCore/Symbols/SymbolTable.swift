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
    private let byName: [String: Int]

    public init(_ symbols: [ELFSymbol]) {
        struct Key: Hashable { let name: String; let value: UInt64 }
        var seen = Set<Key>()
        var unique: [ELFSymbol] = []
        unique.reserveCapacity(symbols.count)
        // .symtab usually repeats .dynsym; keep the first (the fuller entry).
        for symbol in symbols where seen.insert(Key(name: symbol.name, value: symbol.value)).inserted {
            unique.append(symbol)
        }
        unique.sort { $0.value != $1.value ? $0.value < $1.value : $0.preference < $1.preference }
        var ends: [UInt64] = []
        ends.reserveCapacity(unique.count)
        var highest: UInt64 = 0
        for symbol in unique {
            let end = symbol.value.addingReportingOverflow(symbol.size)
            highest = max(highest, end.overflow ? UInt64.max : end.partialValue)
            ends.append(highest)
        }
        var names: [String: Int] = [:]
        names.reserveCapacity(unique.count)
        for (index, symbol) in unique.enumerated() {
            if let old = names[symbol.name], unique[old].preference >= symbol.preference { continue }
            names[symbol.name] = index
        }
        sorted = unique
        maxEnd = ends
        byName = names
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
        byName[name].map { sorted[$0] }
    }
}
