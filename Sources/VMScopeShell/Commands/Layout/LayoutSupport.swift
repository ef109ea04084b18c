import VMScopeCore

/// What the layout commands share: one snapshot of the address space per
/// command, with the program break when it can be read.
enum LayoutSupport {
    /// The snapshot; `withBreak` injects brk(0) (cached while the target has
    /// not run). A break that cannot be read leaves `programBreak` nil and
    /// its reason in `breakError`.
    static func capture(_ session: Session, withBreak: Bool = true, linkMap: Bool = true) throws
        -> (space: AddressSpace, breakError: Error?) {
        let target = try session.requireTarget()
        var brk: UInt64?
        var breakError: Error?
        if withBreak {
            do { brk = try session.programBreaks.programBreak(of: target) } catch { breakError = error }
        }
        let space = try AddressSpace.capture(target: target, programBreak: brk, modules: session.modules, linkMap: linkMap)
        return (space, breakError)
    }

    /// The paging mode in words.
    static func paging(_ g: AddressGeometry) -> String {
        g.usesFiveLevelPaging ? "5-level paging (57-bit addresses)" : "4-level paging (48-bit addresses)"
    }
}
