import Glibc

/// Demangles a C++ (`_Z...`) or Swift (`$s...`, `_$s...`) symbol name.
/// Both demanglers are looked up with dlsym at run time (libstdc++ and the
/// Swift runtime are already loaded into vmscope), so this adds no link
/// dependency. Returns `name` unchanged when it is not mangled or when
/// demangling fails.
public func demangle(_ name: String) -> String {
    if name.hasPrefix("_Z") {
        return Demanglers.shared.cxx(name) ?? name
    }
    if isSwiftMangled(name) {
        return Demanglers.shared.swift(name) ?? name
    }
    return name
}

func isSwiftMangled(_ name: String) -> Bool {
    for prefix in ["$s", "_$s", "$S", "_$S", "$e", "_$e", "_T0"] where name.hasPrefix(prefix) { return true }
    return false
}

/// The two demangling functions, resolved once.
private struct Demanglers: @unchecked Sendable {
    typealias CXXDemangle = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?,
                                            UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int32>?) -> UnsafeMutablePointer<CChar>?
    typealias SwiftDemangle = @convention(c) (UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?,
                                              UnsafeMutablePointer<Int>?, UInt32) -> UnsafeMutablePointer<CChar>?
    let cxxFunction: CXXDemangle?
    let swiftFunction: SwiftDemangle?

    static let shared = Demanglers()

    private init() {
        func find(_ symbol: String, in library: String) -> UnsafeMutableRawPointer? {
            if let found = dlsym(nil, symbol) { return found }  // RTLD_DEFAULT
            guard let handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD) ?? dlopen(library, RTLD_LAZY) else { return nil }
            return dlsym(handle, symbol)
        }
        cxxFunction = find("__cxa_demangle", in: "libstdc++.so.6").map { unsafeBitCast($0, to: CXXDemangle.self) }
        swiftFunction = find("swift_demangle", in: "libswiftCore.so").map { unsafeBitCast($0, to: SwiftDemangle.self) }
    }

    func cxx(_ name: String) -> String? {
        guard let cxxFunction else { return nil }
        var status: Int32 = -1
        guard let result = name.withCString({ cxxFunction($0, nil, nil, &status) }) else { return nil }
        defer { free(result) }
        return status == 0 ? String(cString: result) : nil
    }

    func swift(_ name: String) -> String? {
        guard let swiftFunction else { return nil }
        let length = name.utf8.count
        guard let result = name.withCString({ swiftFunction($0, length, nil, nil, 0) }) else { return nil }
        defer { free(result) }
        return String(cString: result)
    }
}
