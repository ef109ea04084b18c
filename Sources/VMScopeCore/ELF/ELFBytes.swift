/// Bounds-checked little-endian reads over an ELF image. Every offset and
/// size in an ELF file is untrusted (files may be truncated or damaged on
/// purpose), so each read says "nil" rather than trapping.
struct ELFBytes {
    let base: UnsafeRawBufferPointer

    var count: Int { base.count }

    /// True when `size` bytes from `offset` lie inside the image (no overflow).
    func contains(offset: UInt64, size: UInt64) -> Bool {
        offset <= UInt64(base.count) && size <= UInt64(base.count) - offset
    }

    func u8(_ offset: UInt64) -> UInt8? {
        contains(offset: offset, size: 1) ? base[Int(offset)] : nil
    }

    func u16(_ offset: UInt64) -> UInt16? {
        contains(offset: offset, size: 2) ? base.loadUnaligned(fromByteOffset: Int(offset), as: UInt16.self) : nil
    }

    func u32(_ offset: UInt64) -> UInt32? {
        contains(offset: offset, size: 4) ? base.loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self) : nil
    }

    func u64(_ offset: UInt64) -> UInt64? {
        contains(offset: offset, size: 8) ? base.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self) : nil
    }

    /// A sub-range of the image, clipped to what exists.
    func slice(offset: UInt64, size: UInt64) -> UnsafeRawBufferPointer? {
        guard offset <= UInt64(base.count) else { return nil }
        let available = UInt64(base.count) - offset
        let n = Int(min(size, available))
        return UnsafeRawBufferPointer(rebasing: base[Int(offset)..<(Int(offset) + n)])
    }

    /// The NUL-terminated string at `offset`, at most `limit` bytes, stopping
    /// at `end` (the end of its string table).
    func cString(at offset: UInt64, end: UInt64, limit: Int = 4096) -> String? {
        let stop = min(end, UInt64(base.count))
        guard offset < stop else { return nil }
        let start = Int(offset)
        let last = Int(min(stop, offset + UInt64(limit)))
        var i = start
        while i < last && base[i] != 0 { i += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: base[start..<i]), as: UTF8.self)
    }
}
