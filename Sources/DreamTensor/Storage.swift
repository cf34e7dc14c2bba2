import Foundation

/// A flat, 64-byte-aligned buffer of Float32. Tensors share storages (reshape is free); ops never
/// write into a storage they did not allocate, except the optimiser updating its own parameters.
public final class Storage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        MemoryAccounting.allocated(count * MemoryLayout<Float>.stride)
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// A zero-filled buffer.
    public convenience init(zeros count: Int) {
        self.init(count: count)
        pointer.initialize(repeating: 0, count: count)
    }

    deinit {
        MemoryAccounting.allocated(-count * MemoryLayout<Float>.stride)
        free(pointer)
    }

    @inline(__always) public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}

/// Bytes held by tensor storages now and at their peak, so that benchmarks and tests can measure the
/// memory an op needs (BLAS's own fixed buffers are not included).
public enum MemoryAccounting {
    nonisolated(unsafe) static var live = 0
    nonisolated(unsafe) static var peak = 0
    static let lock = NSLock()

    static func allocated(_ bytes: Int) {
        lock.lock()
        live += bytes
        if live > peak { peak = live }
        lock.unlock()
    }

    public static var liveBytes: Int { lock.lock(); defer { lock.unlock() }; return live }
    public static var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peak }

    /// Starts a new peak measurement from the current live size.
    public static func resetPeak() { lock.lock(); peak = live; lock.unlock() }
}
