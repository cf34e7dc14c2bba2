import Foundation

/// Element types the engine can read. Everything computes in Float32; other types are converted on load.
public enum DType: String, CaseIterable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", int64 = "I64", int32 = "I32", float64 = "F64", uint8 = "U8", int8 = "I8"

    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .int64, .float64: 8
        case .uint8, .int8: 1
        }
    }

    /// Converts `count` little-endian elements at `src` to Float32.
    public func convert(_ src: UnsafeRawPointer, count: Int, to dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .float32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .float16:
            if Int(bitPattern: src) % 2 == 0 {
                // Aligned (as safetensors data is): a plain loop the compiler turns into vcvtph2ps.
                let h = src.assumingMemoryBound(to: Float16.self)
                parallelElements(count) { r in for i in r { dst[i] = Float(h[i]) } }
            } else {
                parallelElements(count) { r in
                    for i in r { dst[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                }
            }
        case .bfloat16:
            parallelElements(count) { r in
                for i in r { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
            }
        case .int64:
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .int32:
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .float64:
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .uint8:
            for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .int8:
            for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        }
    }
}
