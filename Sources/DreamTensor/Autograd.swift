import Foundation

/// A vertex of the reverse-mode graph: which nodes the value came from and how to send an output
/// gradient back to them. Leaves (parameters) have no inputs.
public final class GradNode {
    let inputs: [GradNode?]
    /// (output gradient, which inputs need one) -> one gradient per input (nil where not needed).
    let backward: ((Tensor, [Bool]) throws -> [Tensor?])?
    let shape: [Int]
    public let name: String

    init(shape: [Int], name: String, inputs: [GradNode?], backward: ((Tensor, [Bool]) throws -> [Tensor?])?) {
        self.shape = shape
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }

    public var isLeaf: Bool { backward == nil }
}

/// Whether ops record the graph. Inference code runs inside `withoutGrad`, which records nothing and so
/// keeps no activations alive. The setting is the calling thread's own (as PyTorch's): one thread's
/// `withoutGrad` never stops another from recording, and no state is shared.
public enum GradMode {
    /// This thread's setting: no value (the default) records, a non-nil one does not.
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    public static var isEnabled: Bool { pthread_getspecific(key) == nil }

    public static func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, saved) }
        return try body()
    }
}

public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T { try GradMode.withoutGrad(body) }

extension Tensor {
    /// This tensor as a leaf to differentiate with respect to (shares the values).
    public func param() -> Tensor {
        Tensor(shape: shape, storage: storage, node: GradNode(shape: shape, name: "param", inputs: [], backward: nil))
    }

    /// Attaches `backward` to an op's output when recording and some input needs a gradient.
    func recorded(_ name: String, _ inputs: [Tensor], _ backward: @escaping (Tensor, [Bool]) throws -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return self }
        var out = self
        out.node = GradNode(shape: shape, name: name, inputs: inputs.map(\.node), backward: backward)
        return out
    }
}

/// Gradients of a scalar `loss` with respect to each of `wrt` (tensors made with `param()` or results
/// of recorded ops). Inputs that do not influence the loss get zeros. Shared inputs accumulate.
public func gradients(of loss: Tensor, wrt: [Tensor]) throws -> [Tensor] {
    try require(loss.count == 1, "grad needs a scalar loss, got shape \(shapeString(loss.shape))")
    for (i, p) in wrt.enumerated() where p.node == nil {
        throw TensorError("grad: argument \(i) of wrt: is not a parameter (mark it with param(x))")
    }
    guard let root = loss.node else { return wrt.map { Tensor(zeros: $0.shape) } }

    // Topological order by iterative depth-first search (deep graphs must not overflow the stack).
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(GradNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, next) = stack.popLast() {
        if next < node.inputs.count {
            stack.append((node, next + 1))
            if let child = node.inputs[next], !visited.contains(ObjectIdentifier(child)) {
                visited.insert(ObjectIdentifier(child))
                stack.append((child, 0))
            }
        } else {
            order.append(node)
        }
    }

    // Which nodes lie on a path to a requested tensor: only those need gradients.
    let targets = Set(wrt.compactMap { $0.node.map(ObjectIdentifier.init) })
    var needed = Set<ObjectIdentifier>()
    for node in order {   // children come before parents in `order`
        let id = ObjectIdentifier(node)
        if targets.contains(id) || node.inputs.contains(where: { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }) {
            needed.insert(id)
        }
    }

    var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): Tensor(repeating: 1, shape: loss.shape)]
    var results: [ObjectIdentifier: Tensor] = [:]
    try withoutGrad {
        for node in order.reversed() {
            let id = ObjectIdentifier(node)
            guard let g = grads.removeValue(forKey: id) else { continue }
            if targets.contains(id) { results[id] = g }
            guard let backward = node.backward else { continue }
            let needs = node.inputs.map { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }
            guard needs.contains(true) else { continue }
            let inputGrads = try backward(g, needs)
            for (i, child) in node.inputs.enumerated() where needs[i] {
                guard let child, let ig = inputGrads[i] else { continue }
                let cid = ObjectIdentifier(child)
                precondition(ig.shape == child.shape, "\(node.name) backward produced \(ig.shape) for input of shape \(child.shape)")
                if let existing = grads[cid] { grads[cid] = try existing + ig } else { grads[cid] = ig }
            }
        }
    }
    return wrt.map { p in results[ObjectIdentifier(p.node!)] ?? Tensor(zeros: p.shape) }
}
