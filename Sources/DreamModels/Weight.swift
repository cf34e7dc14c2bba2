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

    public init(_ t: Tensor) { shape = t.shape; full = t; half = nil; owner = nil }
    init(shape: [Int], half: UnsafeRawPointer, owner: AnyObject) { self.shape = shape; full = nil; self.half = half; self.owner = owner }

    public var isHalf: Bool { half != nil }

    /// Rows `rows` of a matrix [out, in]: for half weights a view of the same memory, otherwise a
    /// recorded slice (so that a trained weight still gets its gradient).
    public func rows(_ rows: Range<Int>) throws -> Weight {
        let width = shape.dropFirst().reduce(1, *), shape = [rows.count] + Array(self.shape.dropFirst())
        if let half { return Weight(shape: shape, half: half + rows.lowerBound * width * 2, owner: owner!) }
        return Weight(try full!.sliced(axis: 0, start: rows.lowerBound, end: rows.upperBound))
    }

    /// The values as a Float32 tensor (a fresh one for half weights).
    /// One buffer reused for widened weights during inference, so that converting a layer's weight does
    /// not allocate (and fault in) fresh memory for every call. Reused only when nothing else holds it.
    nonisolated(unsafe) static var scratch: Storage? = nil
    static let scratchLock = NSLock()

    public func tensor() -> Tensor {
        if let full { return full }
        let n = shape.reduce(1, *)
        var storage: Storage
        if !GradMode.isEnabled {
            Weight.scratchLock.lock()
            defer { Weight.scratchLock.unlock() }
            if Weight.scratch == nil || Weight.scratch!.count < n || !isKnownUniquelyReferenced(&Weight.scratch!) {
                Weight.scratch = Storage(count: max(n, Weight.scratch?.count ?? 0))
            }
            storage = Weight.scratch!
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
