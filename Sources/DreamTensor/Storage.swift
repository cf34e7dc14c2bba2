import Foundation

/// A flat, 64-byte-aligned buffer of Float32. Tensors share storages (reshape is free); ops never
/// write into a storage they did not allocate, except the optimiser updating its own parameters.
public final class Storage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// For a view of the start of another storage: that storage, kept alive (and nothing freed here).
    let base: Storage?
    /// Where the bytes are counted: the context this storage was allocated under.
    let accounting: MemoryAccounting?

    public init(count: Int) {
        self.count = count
        base = nil
        accounting = ExecutionContext.current.memory
        accounting?.allocated(count * MemoryLayout<Float>.stride)
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
        accounting = nil
        pointer = base.pointer
    }

    /// A view of the first n values.
    public func prefix(_ n: Int) -> Storage { Storage(viewing: self, count: n) }

    deinit {
        guard base == nil else { return }
        accounting?.allocated(-count * MemoryLayout<Float>.stride)
        free(pointer)
    }

    @inline(__always) public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
