import Foundation

/// A dense, contiguous, row-major Float32 tensor (PyTorch layouts: images [N, C, H, W], conv weights
/// [out, in, kH, kW]). Value semantics: ops return new tensors; storage is shared only where the data
/// is identical (reshape). `node` links the tensor into the autodiff graph when it needs a gradient.
public struct Tensor {
    public let shape: [Int]
    public let storage: Storage
    public internal(set) var node: GradNode?

    public init(shape: [Int], storage: Storage, node: GradNode? = nil) {
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not match \(storage.count) elements")
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// Uninitialised tensor, for ops that write every element.
    init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *)))
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: Storage(zeros: shape.reduce(1, *)))
    }

    public init(repeating value: Float, shape: [Int]) {
        let s = Storage(count: shape.reduce(1, *))
        s.pointer.initialize(repeating: value, count: s.count)
        self.init(shape: shape, storage: s)
    }

    public init(_ values: [Float], shape: [Int]) throws {
        try require(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shapeString(shape))")
        try require(values.count == shape.reduce(1, *),
                    "\(values.count) values do not fill shape \(shapeString(shape)) (\(shape.reduce(1, *)) elements)")
        let s = Storage(count: values.count)
        values.withUnsafeBufferPointer { s.pointer.update(from: $0.baseAddress!, count: values.count) }
        self.init(shape: shape, storage: s)
    }

    /// A 0-dimensional tensor.
    public init(scalar: Float) {
        self.init(repeating: scalar, shape: [])
    }

    public var rank: Int { shape.count }
    public var count: Int { storage.count }
    public var requiresGrad: Bool { node != nil }

    @inline(__always) public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
    public var scalars: [Float] { Array(storage.buffer) }

    /// The single value of a one-element tensor.
    public var item: Float {
        get throws {
            try require(count == 1, "expected a single value, got a tensor of shape \(shapeString(shape))")
            return pointer[0]
        }
    }

    /// The same values with no autodiff history.
    public var detached: Tensor { Tensor(shape: shape, storage: storage) }

    /// A copy of the values in fresh storage (no history).
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.pointer.update(from: pointer, count: count)
        return t
    }

    /// Resolves a possibly negative axis against this tensor's rank.
    public func axis(_ a: Int) throws -> Int {
        try require(rank > 0, "a single value (shape []) has no axis \(a)")
        let r = a < 0 ? a + rank : a
        try require(r >= 0 && r < rank, "axis \(a) is out of range for a tensor of shape \(shapeString(shape))")
        return r
    }
}

/// Row-major strides of a shape.
@inline(__always) public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
    return strides
}
