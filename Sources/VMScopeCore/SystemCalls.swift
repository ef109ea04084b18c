import Glibc

/// The one place where a -1 from a system call becomes a typed error
/// carrying the operation and errno (read right after the call). Calls
/// interrupted by a signal are retried.
@inline(__always)
@discardableResult
func syscallChecked<T: BinaryInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let err = errno
        if err == EINTR { continue }
        throw VMScopeError.system(operation: operation(), errno: err)
    }
}

/// The current errno, for calls whose failure is not a plain -1.
@inline(__always)
func currentErrno() -> Int32 { errno }

/// Reads a whole file (for /proc and /sys). Files in /proc report size 0,
/// so this reads until EOF.
public func readWholeFile(_ path: String) throws -> [UInt8] {
    let fd = try syscallChecked("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = try syscallChecked("read \(path)") {
            chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        }
        if n == 0 { break }
        result.append(contentsOf: chunk[0..<n])
    }
    return result
}

/// Reads a text file; nil when it cannot be read.
public func readTextFile(_ path: String) -> String? {
    guard let bytes = try? readWholeFile(path) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

/// Lists a directory's entries other than "." and "..".
public func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else {
        throw VMScopeError.system(operation: "open directory \(path)", errno: errno)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
