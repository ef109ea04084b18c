/// The block exec left at the top of the main stack, read from the live
/// process: argc at start_stack, then argv[] and envp[] (each NULL-ended),
/// then the auxiliary vector (AT_NULL-ended); above them padding with the
/// AT_RANDOM bytes and the platform string; then the argument and
/// environment strings (arg_start..env_end) and the executable's name.
public struct ArgumentBlock: Sendable {
    public let argc: UInt64
    public let environmentCount: Int
    public let auxvCount: Int
    /// start_stack: where argc is.
    public let start: UInt64
    /// The first byte after auxv's AT_NULL pair.
    public let arraysEnd: UInt64
    /// arg_start .. env_end (fields 48 and 51 of /proc/PID/stat).
    public let stringsStart: UInt64
    public let stringsEnd: UInt64

    /// Reads the pointer arrays word by word (at most a few thousand words).
    static func read(target: Target, stat: ProcFS.Stat) -> ArgumentBlock? {
        let start = stat.startStack
        guard start != 0, let argcRead = try? target.read(start, count: 8), argcRead.isComplete else { return nil }
        let argc = AuxiliaryVector.word(argcRead.bytes, 0)
        guard argc < 1 << 20 else { return nil }
        // One read covers argc, argv, envp and auxv of any ordinary process.
        let window = min(UInt64(1 << 20), 8 * (argc + 2) + 64 * 1024)
        guard let words = try? target.read(start, count: Int(window)) else { return nil }
        let bytes = words.bytes
        var index = Int(argc) + 2  // argc, argv[0..argc-1], NULL
        var environment = 0
        while (index + 1) * 8 <= bytes.count, AuxiliaryVector.word(bytes, index * 8) != 0 { environment += 1; index += 1 }
        index += 1  // envp's NULL
        var auxv = 0
        while (index + 2) * 8 <= bytes.count {
            let type = AuxiliaryVector.word(bytes, index * 8)
            index += 2
            if type == AuxiliaryVector.AT.null { break }
            auxv += 1
        }
        guard index * 8 <= bytes.count else { return nil }
        return ArgumentBlock(argc: argc, environmentCount: environment, auxvCount: auxv, start: start,
                             arraysEnd: start + UInt64(index * 8), stringsStart: stat.argStart, stringsEnd: stat.envEnd)
    }
}
