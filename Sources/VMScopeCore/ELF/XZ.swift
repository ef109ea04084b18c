import CLZMA

/// Decompresses an xz stream (MiniDebugInfo). Returns nil when the data is
/// not valid xz or would decompress past `limit` bytes (a damaged or
/// hostile file must not make vmscope allocate without bound).
func decompressXZ(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
    guard let inputBase = input.baseAddress, input.count > 0 else { return nil }
    var stream = lzma_stream()
    // 256 MiB of decoder memory at most; the default xz presets need 8 MiB or so.
    guard lzma_stream_decoder(&stream, 256 << 20, 0) == LZMA_OK else { return nil }
    defer { lzma_end(&stream) }
    stream.next_in = inputBase.assumingMemoryBound(to: UInt8.self)
    stream.avail_in = input.count
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 256 << 10)
    while true {
        let (result, produced): (lzma_ret, Int) = chunk.withUnsafeMutableBufferPointer { buffer in
            stream.next_out = buffer.baseAddress
            stream.avail_out = buffer.count
            let result = lzma_code(&stream, LZMA_FINISH)
            return (result, buffer.count - stream.avail_out)
        }
        if output.count + produced > limit { return nil }
        output.append(contentsOf: chunk[0..<produced])
        if result == LZMA_STREAM_END { return output }
        if result != LZMA_OK { return nil }
        if produced == 0 && stream.avail_in == 0 { return nil }  // truncated input
    }
}
