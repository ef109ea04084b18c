import Glibc

/// A shared library opened with dlopen on first use, by its SONAME.
///
/// Why: every library in vmscope's NEEDED list is loaded and relocated
/// before `main`, whether the run uses it or not. Capstone alone carries
/// ~77,000 relative relocations (about a millisecond of every start on the
/// build machine); readline drags in libtinfo. A `--batch -ex bt` run needs
/// neither, so they are opened here, when a command first needs them.
public final class LazyLibrary: @unchecked Sendable {
    /// The runtime name, e.g. "libcapstone.so.4" (never the -dev "libx.so").
    public let soname: String
    /// What the library is for, for the error sentence ("disassembly").
    public let purpose: String
    private var handle: UnsafeMutableRawPointer?
    private var tried = false

    public init(soname: String, purpose: String) {
        self.soname = soname
        self.purpose = purpose
    }

    /// The library's handle, opening it the first time; throws
    /// `.libraryUnavailable` when it cannot be loaded (the failure is
    /// remembered: dlopen is not retried).
    public func open() throws -> UnsafeMutableRawPointer {
        if !tried {
            tried = true
            handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL)
        }
        guard let handle else { throw VMScopeError.libraryUnavailable(soname: soname, purpose: purpose) }
        return handle
    }

    /// The function `name` as the C function type `T`; throws when the
    /// library or the symbol is missing.
    public func function<T>(_ name: String, as type: T.Type) throws -> T {
        let handle = try open()
        guard let symbol = dlsym(handle, name) else {
            throw VMScopeError.libraryUnavailable(soname: soname, purpose: purpose)
        }
        return unsafeBitCast(symbol, to: T.self)
    }

    /// The address of the global variable `name`, typed.
    public func variable<T>(_ name: String, as type: T.Type) throws -> UnsafeMutablePointer<T> {
        let handle = try open()
        guard let symbol = dlsym(handle, name) else {
            throw VMScopeError.libraryUnavailable(soname: soname, purpose: purpose)
        }
        return symbol.assumingMemoryBound(to: T.self)
    }
}
