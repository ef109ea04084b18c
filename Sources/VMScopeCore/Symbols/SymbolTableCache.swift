import Glibc

/// Symbol tables kept on disk between runs, one file per ELF file (and its
/// separate debug file), so a one-shot `vmscope --pid P --batch -ex bt`
/// reads libc's table instead of building it (1.5-2 ms saved a run).
///
/// Where: $VMSCOPE_SYMBOL_CACHE, else $XDG_CACHE_HOME/vmscope/symbols, else
/// ~/.cache/vmscope/symbols. VMSCOPE_SYMBOL_CACHE=off turns it off. A file
/// is named by a hash of its key (path, device, inode, size and mtime of
/// the ELF file and of its debug file) and holds the key itself, so a
/// changed or replaced file never matches. Written to a temporary name
/// and renamed, so concurrent runs never see half a file. Anything that
/// does not check out (wrong magic, key, counts or checksum, a name outside
/// the names, unsorted values) is ignored and the table is built as before: the file
/// is data from disk, and must never make vmscope trap.
enum SymbolTableCache {
    /// 2: the checksum runs four lanes (files of version 1 are rebuilt).
    static let magic: [UInt8] = Array("VMSSYMT2".utf8)
    static let entrySize = 24
    /// More than any real table (libxul has ~300,000 symbols).
    static let maxEntries = 1 << 24
    static let maxNameBytes = 1 << 30

    static var directory: String? {
        func variable(_ name: String) -> String? {
            guard let value = getenv(name) else { return nil }
            let text = String(cString: value)
            return text.isEmpty ? nil : text
        }
        if let explicit = variable("VMSCOPE_SYMBOL_CACHE") { return explicit == "off" ? nil : explicit }
        if let cache = variable("XDG_CACHE_HOME"), cache.hasPrefix("/") { return cache + "/vmscope/symbols" }
        if let home = variable("HOME"), home.hasPrefix("/") { return home + "/.cache/vmscope/symbols" }
        return nil
    }

    /// 64-bit FNV-1a of the key, as 16 hex digits: the file's name.
    static func fileName(for key: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits + ".symbols"
    }

    static func load(key: String) -> SymbolTable? {
        guard let directory else { return nil }
        return withMappedFile(directory + "/" + fileName(for: key)) { decode($0, key: key) } ?? nil
    }

    /// Runs `body` on the file mapped read-only and populated in one go:
    /// reading libc's third of a megabyte into a new array faulted in every
    /// page of the array (~0.2 ms of a one-shot `bt`); the mapping shares
    /// the page cache's pages instead. The mapping ends when `body` returns.
    private static func withMappedFile<T>(_ path: String, _ body: (UnsafeRawBufferPointer) -> T) -> T? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0,
              info.st_size <= Int64(maxNameBytes) else { return nil }
        let size = Int(info.st_size)
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else { return nil }
        defer { munmap(base, size) }
        // A file truncated meanwhile would SIGBUS a read past its end: the
        // size is checked again now that the pages are mapped.
        guard fstat(fd, &info) == 0, Int(info.st_size) == size else { return nil }
        return body(UnsafeRawBufferPointer(start: base, count: size))
    }

    /// Smaller tables build in well under a millisecond: not worth a file
    /// (and test programs, rebuilt often, would leave one each time).
    /// ld.so's ~600 symbols with debug info take ~0.1 ms to build against
    /// ~0.03 ms to read back: worth one.
    static let minimumEntries = 400

    static func store(_ table: SymbolTable, key: String) {
        guard table.count >= minimumEntries, let directory, makeDirectories(directory) else { return }
        let bytes = encode(table, key: key)
        let final = directory + "/" + fileName(for: key)
        let temporary = final + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        var done = 0
        let written = bytes.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            while done < raw.count {
                let n = write(fd, base + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        close(fd)
        if !written || rename(temporary, final) != 0 { unlink(temporary) }
    }

    /// magic, key length (u32), key, entry count (u64), name bytes (u64),
    /// checksum of what follows (u64), entries (value u64, size u64, name
    /// start u32, name length u16, flags u8, 0), names.
    static func encode(_ table: SymbolTable, key: String) -> [UInt8] {
        let keyBytes = Array(key.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(magic.count + 4 + keyBytes.count + 16 + table.entries.count * entrySize + table.nameBytes.count)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: magic)
        put(UInt32(keyBytes.count))
        out.append(contentsOf: keyBytes)
        put(UInt64(table.entries.count))
        put(UInt64(table.nameBytes.count))
        let checksumAt = out.count
        put(UInt64(0))
        for entry in table.entries {
            put(entry.value); put(entry.size); put(entry.nameStart); put(entry.nameLength)
            out.append(entry.flags); out.append(0)
        }
        out.append(contentsOf: table.nameBytes)
        let sum = out.withUnsafeBytes { checksum(UnsafeRawBufferPointer(rebasing: $0[(checksumAt + 8)...])) }
        withUnsafeBytes(of: sum.littleEndian) { raw in
            for (i, byte) in raw.enumerated() { out[checksumAt + i] = byte }
        }
        return out
    }

    /// A word-at-a-time FNV-style hash: catches a damaged byte anywhere in
    /// the entries or names (a third of a megabyte for libc). Four
    /// independent lanes, folded at the end: one lane is a chain of
    /// dependent multiplies (~80 us for libc), four run side by side.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let prime: UInt64 = 0x100_0000_01b3
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4, 0x9e37_79b9_7f4a_7c15, 0x6a09_e667_f3bc_c908)
        let blocks = bytes.count / 32
        for i in 0..<blocks {
            let at = i * 32
            lanes.0 = (lanes.0 ^ bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) &* prime
            lanes.1 = (lanes.1 ^ bytes.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self)) &* prime
            lanes.2 = (lanes.2 ^ bytes.loadUnaligned(fromByteOffset: at + 16, as: UInt64.self)) &* prime
            lanes.3 = (lanes.3 ^ bytes.loadUnaligned(fromByteOffset: at + 24, as: UInt64.self)) &* prime
            lanes.0 ^= lanes.0 >> 29; lanes.1 ^= lanes.1 >> 29; lanes.2 ^= lanes.2 >> 29; lanes.3 ^= lanes.3 >> 29
        }
        var hash = lanes.0
        for lane in [lanes.1, lanes.2, lanes.3] { hash = ((hash ^ lane) &* prime) ^ (hash >> 29) }
        for i in (blocks * 32)..<bytes.count {
            hash = (hash ^ UInt64(bytes[i])) &* prime
        }
        return hash
    }

    static func decode(_ bytes: [UInt8], key: String) -> SymbolTable? {
        bytes.withUnsafeBytes { decode($0, key: key) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer, key: String) -> SymbolTable? {
        do {
            var at = 0
            func take(_ count: Int) -> UnsafeRawBufferPointer? {
                guard count >= 0, count <= raw.count - at else { return nil }
                defer { at += count }
                return UnsafeRawBufferPointer(rebasing: raw[at..<(at + count)])
            }
            func number<T: FixedWidthInteger>(_ type: T.Type) -> T? {
                guard let field = take(MemoryLayout<T>.size) else { return nil }
                return T(littleEndian: field.loadUnaligned(as: T.self))
            }
            let keyBytes = Array(key.utf8)
            guard let head = take(magic.count), head.elementsEqual(magic),
                  let keyLength = number(UInt32.self), Int(keyLength) == keyBytes.count,
                  let storedKey = take(keyBytes.count), storedKey.elementsEqual(keyBytes),
                  let entryCount = number(UInt64.self), entryCount <= UInt64(maxEntries),
                  let nameCount = number(UInt64.self), nameCount <= UInt64(maxNameBytes),
                  let storedSum = number(UInt64.self),
                  raw.count - at == Int(entryCount) * entrySize + Int(nameCount),
                  checksum(UnsafeRawBufferPointer(rebasing: raw[at...])) == storedSum else { return nil }
            // The length check above covers every entry: read them in place.
            guard let table = take(Int(entryCount) * entrySize) else { return nil }
            var entries: [SymbolTable.Entry] = []
            entries.reserveCapacity(Int(entryCount))
            var previous: UInt64 = 0
            for index in 0..<Int(entryCount) {
                let base = index * entrySize
                let value = UInt64(littleEndian: table.loadUnaligned(fromByteOffset: base, as: UInt64.self))
                let size = UInt64(littleEndian: table.loadUnaligned(fromByteOffset: base + 8, as: UInt64.self))
                let nameStart = UInt32(littleEndian: table.loadUnaligned(fromByteOffset: base + 16, as: UInt32.self))
                let nameLength = UInt16(littleEndian: table.loadUnaligned(fromByteOffset: base + 20, as: UInt16.self))
                let flags = table[base + 22]
                guard value >= previous, flags < 8, UInt64(nameStart) + UInt64(nameLength) <= nameCount else { return nil }
                previous = value
                entries.append(SymbolTable.Entry(value: value, size: size, nameStart: nameStart,
                                                 nameLength: nameLength, flags: flags))
            }
            guard let names = take(Int(nameCount)) else { return nil }
            return SymbolTable(sorted: entries, names: Array(names))
        }
    }

    /// mkdir -p, for the two or three levels the cache needs.
    private static func makeDirectories(_ path: String) -> Bool {
        var info = stat()
        if stat(path, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFDIR }
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
