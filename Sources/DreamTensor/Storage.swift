import Foundation

/// A flat, 64-byte-aligned buffer of Float32. Tensors share storages (reshape is free); ops never
/// write into a storage they did not allocate, except the optimiser updating its own parameters.
public final class Storage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// For a view of the start of another storage: that storage, kept alive (and nothing freed here).
    let base: Storage?

    public init(count: Int) {
        self.count = count
        base = nil
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

    /// The first `count` values of `base`, without copying.
    init(viewing base: Storage, count: Int) {
        precondition(count <= base.count)
        self.base = base
        self.count = count
        pointer = base.pointer
    }

    /// A view of the first n values.
    public func prefix(_ n: Int) -> Storage { Storage(viewing: self, count: n) }

    deinit {
        guard base == nil else { return }
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
