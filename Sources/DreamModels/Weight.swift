import Foundation
import DreamTensor
import DreamIO

/// A layer's weight matrix or kernel, in Float32 or kept in half precision and widened for each use:
/// SD 1.5's UNet then needs 1.7 GB for its weights instead of 3.4 GB, for a conversion per call that
/// costs a few percent of the call.
public struct Weight {
    public let shape: [Int]
    let full: Tensor?
    let half: UnsafeRawPointer?
    let owner: AnyObject?
    /// Where half weights are widened during inference: their store's buffer.
    let scratch: WideningBuffer?

    public init(_ t: Tensor) { shape = t.shape; full = t; half = nil; owner = nil; scratch = nil }
    init(shape: [Int], half: UnsafeRawPointer, owner: AnyObject, scratch: WideningBuffer) {
        self.shape = shape; full = nil; self.half = half; self.owner = owner; self.scratch = scratch
    }

    public var isHalf: Bool { half != nil }

    /// Rows `rows` of a matrix [out, in]: for half weights a view of the same memory, otherwise a
    /// recorded slice (so that a trained weight still gets its gradient).
    public func rows(_ rows: Range<Int>) throws -> Weight {
        let width = shape.dropFirst().reduce(1, *), shape = [rows.count] + Array(self.shape.dropFirst())
        if let half { return Weight(shape: shape, half: half + rows.lowerBound * width * 2, owner: owner!, scratch: scratch!) }
        return Weight(try full!.sliced(axis: 0, start: rows.lowerBound, end: rows.upperBound))
    }

    /// The values as a Float32 tensor (a fresh one for half weights).

    public func tensor() -> Tensor {
        if let full { return full }
        let n = shape.reduce(1, *)
        var storage: Storage
        if !GradMode.isEnabled, let scratch {
            storage = scratch.storage(count: n)
        } else {
            storage = Storage(count: n)
        }
        DType.float16.convert(half!, count: n, to: storage.pointer)
        // A view of the first n values: a Storage of exactly n that shares nothing is needed for Tensor,
        // so wrap when the scratch is larger.
        if storage.count == n { return Tensor(shape: shape, storage: storage) }
        return Tensor(shape: shape, storage: storage.prefix(n))
    }
}

/// One buffer per weight store, reused for widened half weights during inference, so that converting a
/// layer's weight does not allocate (and fault in) fresh memory for every call. Reused only when nothing
/// else holds it.
final class WideningBuffer {
    private var buffer: Storage?
    private let lock = NSLock()

    func storage(count n: Int) -> Storage {
        lock.lock()
        defer { lock.unlock() }
        if buffer == nil || buffer!.count < n || !isKnownUniquelyReferenced(&buffer!) {
            buffer = Storage(count: max(n, buffer?.count ?? 0))
        }
        return buffer!
    }
}
