import VMScopeCore

/// Turns what the user typed after `break`, `until`... into an address:
/// an address expression (`0x401136`, `$rip+8`, `*0x401136`) or a symbol
/// of the target (`recurse`, `libc.so.6:malloc`).
enum Locations {
    static func resolve(_ text: String, in session: Session) throws -> UInt64 {
        let target = try session.requireTarget()
        let expression = text.hasPrefix("*") ? String(text.dropFirst()) : text
        if let first = expression.first, first.isNumber || first == "$" {
            let registers = try? target.registers(tid: session.currentThread())
            return try AddressExpression.evaluate(expression, registers: registers)
        }
        if let address = try symbolAddress(expression, in: session) { return address }
        throw ShellError.unknownSymbol(expression)
    }

    static func symbolAddress(_ name: String, in session: Session) throws -> UInt64? {
        nil
    }
}
