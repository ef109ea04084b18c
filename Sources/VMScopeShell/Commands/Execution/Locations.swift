import VMScopeCore

/// Turns what the user typed after `break`, `until`... into an address:
/// an address expression (`0x401136`, `$rip+8`, `*0x401136`) or a symbol
/// of the target (`recurse`, `libc.so.6:malloc`).
enum Locations {
    /// `context`: the caller's, when it has one (the maps are read once).
    static func resolve(_ text: String, in session: Session, context: StackContext? = nil) throws -> UInt64 {
        let target = try session.requireTarget()
        let expression = text.hasPrefix("*") ? String(text.dropFirst()) : text
        if let first = expression.first, first.isNumber || first == "$" {
            let registers = try? target.registers(tid: session.currentThread())
            return try AddressExpression.evaluate(expression, registers: registers)
        }
        if let address = try symbolAddress(expression, in: context ?? StackContext(session: session)) { return address }
        throw ShellError.unknownSymbol(expression)
    }

    static func symbolAddress(_ name: String, in context: StackContext) throws -> UInt64? {
        if let (file, line) = fileAndLine(name) {
            let unwinder = try context.target.unwinder()
            unwinder.noteMaps(context.maps)
            return unwinder.codeAddress(file: file, line: line)
        }
        return context.cache.address(ofSymbol: name, modules: context.modules)
    }

    /// "recurse.c:12" -> ("recurse.c", 12); "libc.so.6:malloc" is a symbol.
    static func fileAndLine(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let line = Int(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), line)
    }
}
